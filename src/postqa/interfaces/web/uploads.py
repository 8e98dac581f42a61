"""The Add articles tab: editors upload files, the ingest runs in the background, the page shows progress."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from postqa.core.config import Settings
from postqa.interfaces.web.chat import AssistantHolder, ChatService
from postqa.interfaces.web.render import escape_text
from postqa.service.upload import TEXT_SUFFIXES, UploadJob, UploadRefused, UploadReport, Uploads


def editors_enabled(settings: Settings) -> bool:
    """The tab exists only when logins are configured and some of them are editors."""
    users = {entry.partition(":")[0] for entry in settings.server.auth}
    return bool(users & set(settings.server.editors))


def refused_html(message: str) -> str:
    return (f'<div class="pq-upload" data-state="refused"><p class="pq-refused">Refused: {escape_text(message)}</p>'
            "</div>")


def progress_html(job: UploadJob) -> str:
    done, total = job.progress
    what = f"{done} of {total} articles indexed" if total else f"reading {job.files} file(s)"
    bar = f'<progress value="{done}" max="{max(total, 1)}"></progress>' if total else "<progress></progress>"
    return (f'<div class="pq-upload pq-progress" data-state="{escape_text(job.stage)}">{bar}'
            f"<p>{escape_text(job.stage.capitalize())}: {escape_text(what)}… The chat keeps answering meanwhile."
            f"</p></div>")


def report_html(report: UploadReport) -> str:
    """Added / updated / unchanged / skipped, each skipped file with its reason, each file's warnings."""
    head = (f"Finished: {len(report.added)} added, {len(report.updated)} updated, {report.unchanged} unchanged, "
            f"{len(report.skipped)} skipped")
    folder = f" (saved in corpus/{escape_text(report.folder)})" if report.folder else ""
    skipped = "".join(f"<li><code>{escape_text(f)}</code>: {escape_text(r)}</li>" for f, r in report.skipped)
    warned = "".join(f"<li><code>{escape_text(f)}</code>: {escape_text('; '.join(ws))}</li>"
                     for f, ws in report.warnings.items())
    parts = [f'<div class="pq-upload pq-progress" data-state="finished"><progress value="1" max="1"></progress>'
             f"<p><strong>{escape_text(head)}</strong>{folder}. The chat answers from the new articles now.</p>"]
    if skipped:
        parts.append(f"<p>Skipped:</p><ul class=\"pq-skipped\">{skipped}</ul>")
    if warned:
        parts.append(f"<p>Warnings from the reader:</p><ul class=\"pq-warnings\">{warned}</ul>")
    return "".join(parts) + "</div>"


def read_uploaded(paths: Sequence[str], limit: int) -> list[tuple[str, bytes]]:
    """The uploaded temp files as (original name, bytes); UploadRefused before reading when they are too big."""
    sizes = [(p, os.path.getsize(p)) for p in paths]
    total = sum(s for _, s in sizes)
    if total > limit:
        big = max(sizes, key=lambda x: x[1])
        raise UploadRefused(f"the upload is {total:,} bytes ({Path(big[0]).name!r} is {big[1]:,}), over the "
                            f"limit of {limit:,} bytes; nothing was added. Upload fewer or smaller files")
    out = []
    for p in paths:
        out.append((Path(p).name, Path(p).read_bytes()))
    return out


class UploadPanel:
    """The tab and its one event; editor rights are checked on the server for every call."""

    def __init__(self, settings: Settings, holder: AssistantHolder, service: ChatService) -> None:
        self.settings = settings
        self.service = service
        self.uploads = Uploads(settings, embedder=lambda: holder.embedder)
        self.tab: Any = None

    def visible_for(self, user: str) -> bool:
        return bool(user) and user in self.settings.server.editors

    def build(self, gr: Any, status: Any) -> None:
        limit = self.settings.server.upload_max_mb
        with gr.Tab("Add articles", id="upload", visible=False) as tab:
            gr.Markdown(f"Add news articles: {', '.join(TEXT_SUFFIXES)} files or a `.zip` of them, at most "
                        f"{limit} MB per upload. They are saved under the corpus folder and indexed in the "
                        "background; the chat answers from them as soon as the indexing finishes.")
            files = gr.File(label="Article files", file_count="multiple", type="filepath",
                            elem_id="pq-upload-files")
            add = gr.Button("Add to the index", variant="primary", elem_id="pq-upload-add")
            result = gr.HTML("", elem_id="pq-upload-result")
        self.tab = tab

        def run(files: Any, request: Any) -> Iterator[tuple[Any, ...]]:
            yield from self.run(files, request)

        run.__annotations__ = {"request": gr.Request}  # gradio passes the request (and its login) by annotation
        add.click(run, [files], [result, status, files], api_visibility="private")

    def run(self, files: Sequence[str] | str | None, request: Any = None) -> Iterator[tuple[Any, ...]]:
        """Check rights and files at once (refusals write nothing), then poll the background ingest."""
        import gradio as gr

        user = str(getattr(request, "username", None) or "")
        if not self.visible_for(user):
            yield refused_html(f"adding articles needs an editor login (server.editors); you are signed in as "
                               f"{user or 'nobody'}"), gr.skip(), gr.skip()
            return
        paths = [files] if isinstance(files, str) else list(files or [])
        if not paths:
            yield refused_html("choose one or more files first"), gr.skip(), gr.skip()
            return
        try:
            job = self.uploads.start(read_uploaded(paths, self.uploads.limit), user)
        except UploadRefused as err:
            yield refused_html(str(err)), gr.skip(), None
            return
        finally:
            for p in paths:  # Gradio's temp copies: the corpus folder holds the only kept copy
                Path(p).unlink(missing_ok=True)
        while not job.done.wait(0.4):
            yield progress_html(job), gr.skip(), gr.skip()
        if job.error:
            yield refused_html(job.error), self.service.status(), None
            return
        assert job.report is not None
        yield report_html(job.report), self.service.status(), None

