"""The `postqa who` command: a person's roles, dated, with the articles naming them."""

from __future__ import annotations

import argparse
import json
from typing import Any

from postqa.index.people import PeopleLookup, PeopleSource, people_path, who_answer
from postqa.interfaces.common import load_cli_settings


def _people_without_model(settings: Any) -> PeopleLookup | None:
    """The people index of the one collection built for the configured model name, without loading the
    model (seconds instead of ~20 s). None when that is not unambiguous: then the caller loads it."""
    if settings.embedding.provider != "sentence-transformers":
        return None
    from postqa.core.errors import PostqaError
    from postqa.index.chunking import chunker_id
    from postqa.index.embedding import resolve_model
    from postqa.index.store import ChromaIndex
    from postqa.service.pipeline import open_store

    try:
        _, canonical = resolve_model(settings.embedding.model, settings.embedding.offline)
        store = open_store(settings)
        found = [(n, s) for n, s, _ in store.indexes() if s is not None and s.model == canonical
                 and s.chunk_overlap == settings.chunking.overlap_sentences
                 and s.chunker == chunker_id(settings.nlp.model)]
        if len(found) != 1:
            return None
        name, spec = found[0]
        index = ChromaIndex(store, store.client.get_collection(name, embedding_function=None), spec)
        return PeopleSource(index, people_path(settings.paths.vectorstore, name))()
    except PostqaError:
        return None


def cmd_who(args: argparse.Namespace) -> int:
    settings = load_cli_settings(args)
    people = _people_without_model(settings)
    if people is None:
        from postqa.service.pipeline import build_assistant

        people = build_assistant(settings).people_index()
    person = people.person(args.name)
    if person is None:
        known = ", ".join(people.names()[:20]) or "none yet (run `postqa ingest`)"
        if args.json:
            print(json.dumps({"name": args.name, "found": False, "known": people.names()},
                             ensure_ascii=False))
        elif len(people.candidates(args.name)) > 1:
            print(f"{args.name!r} could be {', '.join(people.candidates(args.name))}: give the full name")
        else:
            print(f"No one called {args.name!r} is named in the indexed news. "
                  f"People the index knows: {known}")
        return 1
    if args.json:
        print(json.dumps({"found": True, **person.to_json()}, ensure_ascii=False))
        return 0
    ans = who_answer(people, f"Who is {person.name}?", person.name)
    print(ans.text if ans else person.name)
    for n, art in enumerate(person.articles, start=1):
        d = art["date"].isoformat() if art["date"] else "undated"
        s, e = art["span"]
        sent = art["sentence"]
        print(f"  [{n}] {art['title']} ({d}) {art['source']}\n      {sent[:s]}[{sent[s:e]}]{sent[e:]}")
    return 0


def register_cli(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("who", parents=[common], help="a person's roles and the articles naming them",
                              description="Roles of a person as the news gives them, with dates and the "
                                          "articles that name them, newest first.")
    p.add_argument("name", help='a name as it appears in the news, e.g. "Kang Ning"')
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_who)
