"""The Gradio page: Chat (with sources and feedback), Article, Browse and, for editors, Add articles."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from postqa.core.config import Settings
from postqa.core.errors import PostqaError
from postqa.interfaces.web.chat import AssistantHolder, ChatService, assistant_factory
from postqa.interfaces.web.lean_import import import_gradio
from postqa.interfaces.web.render import (
    MAX_SHOWN_QUESTION,
    article_html,
    escape_text,
    shown_question,
    sources_html,
    status_html,
)
from postqa.interfaces.web.uploads import UploadPanel, editors_enabled
from postqa.service.feedback import FeedbackError, FeedbackStore, feedback_path

# Noto CJK (Debian's fonts-noto-cjk) after the theme's Latin fonts: Chinese text and CJK brackets render.
FONT_STACK = ('"Source Sans Pro", ui-sans-serif, system-ui, "Noto Sans", "Noto Sans CJK SC", '
              '"Noto Sans CJK JP", "Noto Sans CJK TC", "Noto Sans CJK KR", "WenQuanYi Micro Hei", sans-serif')

CSS = ":root, body, .gradio-container { --font: " + FONT_STACK + "; font-family: " + FONT_STACK + "; }\n" + """
.pq-status { font-size: 0.85em; color: var(--body-text-color-subdued); }
.pq-status-error { color: var(--error-text-color); }
.pq-sources h3 { margin: 0 0 0.5em 0; font-size: 1em; }
.pq-list, .pq-rows { list-style: none; padding: 0; margin: 0; }
.pq-src { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.6em 0.8em;
          margin-bottom: 0.6em; background: var(--background-fill-secondary); }
.pq-title { font-weight: 600; overflow-wrap: anywhere; }
.pq-n { color: var(--color-accent); margin-right: 0.25em; }
.pq-meta { font-size: 0.85em; color: var(--body-text-color-subdued); margin: 0.15em 0 0.4em 0; }
.pq-open { cursor: pointer; color: var(--link-text-color); text-decoration: underline; }
.pq-passage { margin: 0; padding-left: 0.7em; border-left: 3px solid var(--color-accent); }
.pq-passage mark, .pq-hit mark { background: #ffe58a; color: #000; padding: 0 0.1em; border-radius: 2px; }
.pq-hit { background: #fff4c2; color: #000; outline: 2px solid #f2c94c; border-radius: 3px; }
.pq-article { max-width: 60em; }
.pq-article-title { margin: 0 0 0.3em 0; overflow-wrap: anywhere; }
.pq-body { white-space: pre-wrap; line-height: 1.55; max-height: 70vh; overflow-y: auto; }
.pq-warnings, .pq-warn { color: var(--body-text-color-subdued); font-size: 0.85em; }
.pq-row { padding: 0.3em 0; border-bottom: 1px solid var(--border-color-primary); }
.pq-row time { color: var(--body-text-color-subdued); font-size: 0.85em; margin-left: 0.5em; }
.pq-empty { color: var(--body-text-color-subdued); }
.pq-progress progress { width: 100%; height: 1.2em; }
.pq-refused { color: var(--error-text-color); font-weight: 600; }
"""

# The only hand-written script: a click (or Enter) on an "Open article" link inside the sources panel or the
# Browse list becomes the component's click event, with the article id and passage offsets as its data.
OPEN_JS = """
const openFrom = (t) => trigger('click', {article: t.dataset.article, start: Number(t.dataset.start),
  len: Number(t.dataset.len), span: t.dataset.span});
element.addEventListener('click', (e) => {
  const t = e.target.closest('[data-pq-open]'); if (t) { e.preventDefault(); openFrom(t); } });
element.addEventListener('keydown', (e) => {
  const t = e.target.closest('[data-pq-open]'); if (t && e.key === 'Enter') { e.preventDefault(); openFrom(t); } });
"""
SCROLL_JS = """() => { setTimeout(() => { const m = document.querySelector('#pq-article #pq-hit');
  if (m) m.scrollIntoView({block: 'center'}); }, 150); }"""


def open_event(data: Any) -> tuple[str, int, int, tuple[int, int] | None] | None:
    """(article id, passage start, passage length, answer span) from an "Open article" click's data."""
    if not isinstance(data, dict) or not data.get("article"):
        return None
    try:
        start, length = int(data.get("start", -1)), int(data.get("len", 0))
        s, e = (int(x) for x in str(data.get("span") or "0,0").split(",")[:2])
    except (TypeError, ValueError):
        start, length, s, e = -1, 0, 0, 0
    return str(data["article"])[:500], start, length, ((s, e) if e > s else None)


class Feedback:
    """Thumbs and comments on the chat's answers, written to the feedback store with what was answered."""

    def __init__(self, settings: Settings, holder: AssistantHolder) -> None:
        self.store = FeedbackStore(feedback_path(settings.paths.vectorstore))
        self.holder = holder

    def record(self, turn: dict[str, Any] | None, liked: Any, user: str) -> tuple[str, int | None]:
        if not turn or not isinstance(liked, bool):
            return "", None
        info = self._index_info()
        try:
            fid = self.store.add(1 if liked else -1, turn["question"], turn["answer"], turn.get("history", ()),
                                 collection=info.get("collection", ""), model=info.get("model", ""), user=user)
        except FeedbackError as err:
            return f'<p class="pq-refused">{escape_text(str(err))}</p>', None
        verdict = "helpful" if liked else "wrong"
        return (f'<p class="pq-feedback-ok">Thanks: recorded as {verdict} (#{fid}). Add a comment below if you '
                "like.</p>"), fid

    def comment(self, fid: int | None, text: str) -> str:
        if not fid:
            return '<p class="pq-empty">Rate an answer with a thumb up or down first, then add a comment.</p>'
        try:
            self.store.set_comment(int(fid), text)
        except FeedbackError as err:
            return f'<p class="pq-refused">{escape_text(str(err))}</p>'
        return f'<p class="pq-feedback-ok">Comment saved with feedback #{int(fid)}.</p>'

    def _index_info(self) -> dict[str, str]:
        try:
            status = self.holder.get().status()
        except Exception:  # noqa: BLE001 - the verdict is kept even when the index cannot be described
            return {}
        return {"collection": str(status.get("collection", "")),
                "model": str((status.get("embedding") or {}).get("model", ""))}


def _user(request: Any) -> str:
    return str(getattr(request, "username", None) or "")


def typed(fn: Any, **hints: Any) -> Any:
    """Give ``fn`` real annotations for gradio's injected arguments (gr.Request, gr.EventData): with postponed
    annotations and gradio imported inside a function, the strings would not resolve and nothing is passed."""
    fn.__annotations__ = dict(hints)
    return fn


def build_app(settings: Settings, holder: AssistantHolder | None = None) -> Any:
    """The Blocks app: the tabs, the status line and the public /ask endpoint (every UI event is private)."""
    import_gradio()  # the lean import, with the offline environment set first
    import gradio as gr

    holder = holder or AssistantHolder(assistant_factory(settings))
    service = ChatService(holder)
    feedback = Feedback(settings, holder)
    with gr.Blocks(title="postqa · China Post news", analytics_enabled=False) as demo:
        gr.Markdown("## postqa · China Post news\nAsk about China Post news: a short answer with the "
                    "passages it comes from.")
        status = gr.HTML(status_html(None, "loading…"), elem_id="pq-status")
        with gr.Tabs(elem_id="pq-tabs") as tabs:
            with gr.Tab("Chat", id="chat"):
                chat = _chat_tab(gr, service, feedback)
            with gr.Tab("Article", id="article"):
                back = gr.Button("← Back to the chat", size="sm", variant="secondary", elem_id="pq-back")
                article = gr.HTML(article_html(None), elem_id="pq-article")
            with gr.Tab("Browse", id="browse"):
                browse = _browse_tab(gr, service)
            panel = UploadPanel(settings, holder, service) if editors_enabled(settings) else None
            if panel is not None:
                panel.build(gr, status)

        def open_article(evt: gr.EventData) -> tuple[Any, Any]:
            found = open_event(getattr(evt, "_data", None))
            if found is None:
                return gr.skip(), gr.skip()
            return service.article(*found), gr.Tabs(selected="article")

        typed(open_article, evt=gr.EventData)
        for html in (chat["sources"], browse):
            html.click(open_article, None, [article, tabs], api_visibility="private").then(
                None, None, None, js=SCROLL_JS, api_visibility="private")
        back.click(lambda: gr.Tabs(selected="chat"), None, [tabs], api_visibility="private")

        def refresh(request: gr.Request) -> tuple[Any, ...]:
            visible = panel.visible_for(_user(request)) if panel is not None else False
            return (service.status(), gr.update(choices=service.articles()), service.browse(),
                    gr.update(visible=visible) if panel is not None else gr.skip())

        typed(refresh, request=gr.Request)
        outputs = [status, chat["article_ids"], browse, panel.tab if panel is not None else status]
        demo.load(refresh, None, outputs, api_visibility="private")
        gr.api(_ask_endpoint(service), api_name="ask")
    demo.queue(default_concurrency_limit=settings.server.concurrency,
               max_size=max(64, 16 * settings.server.concurrency))
    return demo


def _ask_endpoint(service: ChatService) -> Any:
    def ask(question: str, history: list[str] | None = None, date_from: str = "", date_to: str = "",
            articles: list[str] | None = None, as_of: str = "") -> dict[str, Any]:
        """Answer one question. `history`: earlier questions of the conversation (for follow-ups); `as_of`:
        the date it is asked, YYYY-MM-DD (default today: what "this week" and "recently" mean).
        Returns the `postqa ask --json` object, or {"question", "error"}."""
        from postqa.service.validation import line_error, question_text, text_list

        try:  # every field checked for its type first: a number is not a question, a string not a list
            question = question_text(question)
            history = text_list(history, "history")
        except PostqaError as err:
            return line_error(str(question)[:MAX_SHOWN_QUESTION], err)
        reply = service.reply(question, history, date_from, date_to, articles, as_of)
        if reply.answer is None:
            return {"question": question[:MAX_SHOWN_QUESTION], "error": reply.error}
        return reply.answer.to_json()

    return ask


def _chat_tab(gr: Any, service: ChatService, feedback: Feedback) -> dict[str, Any]:
    """The chat column (question box, examples, filters, thumbs and comment) beside the sources panel."""
    questions = gr.State([])
    turns = gr.State({})  # chat message index -> what was asked and answered, for feedback
    last_feedback = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(label="Chat", elem_id="pq-chat", height=460, sanitize_html=True,
                                 render_markdown=True, allow_tags=False, latex_delimiters=[],
                                 buttons=["copy"], feedback_options=("Like", "Dislike"), layout="bubble")
            box = gr.Textbox(placeholder="Ask a question about the news…", show_label=False,
                             elem_id="pq-question", max_lines=4, submit_btn=True, max_length=20_000)
            with gr.Row():
                clear_btn = gr.Button("Clear chat", elem_id="pq-clear", size="sm", variant="secondary")
            feedback_msg = gr.HTML("", elem_id="pq-feedback")
            with gr.Row():
                comment = gr.Textbox(placeholder="What was wrong or missing? (optional, after a thumb up or down)",
                                     show_label=False, elem_id="pq-comment", max_lines=3, max_length=2000, scale=4)
                comment_btn = gr.Button("Send comment", elem_id="pq-comment-send", size="sm", scale=1)
            gr.Examples(examples=[[q] for q in service.examples()], inputs=[box], label="Example questions")
            with gr.Accordion("Filters", open=False):
                with gr.Row():
                    date_from = gr.Textbox(label="Published from", placeholder="YYYY-MM-DD", max_lines=1)
                    date_to = gr.Textbox(label="Published to", placeholder="YYYY-MM-DD", max_lines=1)
                article_ids = gr.Dropdown(label="Only these articles", choices=[], multiselect=True,
                                          elem_id="pq-articles")
        with gr.Column(scale=2):
            sources = gr.HTML(sources_html(None), elem_id="pq-sources", js_on_load=OPEN_JS)

    respond = _responder(gr, service)

    def clear() -> tuple[Any, ...]:
        return [], [], {}, sources_html(None), "", ""

    def like(known: dict[str, Any] | None, evt: gr.LikeData, request: gr.Request) -> tuple[Any, Any]:
        index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        message, fid = feedback.record((known or {}).get(str(index)), evt.liked, _user(request))
        return message, fid

    typed(like, evt=gr.LikeData, request=gr.Request)
    box.submit(respond, [box, chatbot, questions, turns, date_from, date_to, article_ids],
               [box, chatbot, questions, turns, sources, feedback_msg], api_visibility="private")
    clear_btn.click(clear, None, [chatbot, questions, turns, sources, box, feedback_msg], api_visibility="private")
    chatbot.clear(clear, None, [chatbot, questions, turns, sources, box, feedback_msg], api_visibility="private")
    chatbot.like(like, [turns], [feedback_msg, last_feedback], api_visibility="private")
    comment_btn.click(lambda fid, text: (feedback.comment(fid, text), ""), [last_feedback, comment],
                      [feedback_msg, comment], api_visibility="private")
    return {"sources": sources, "article_ids": article_ids}


def _responder(gr: Any, service: ChatService) -> Any:
    """The chat's submit handler: streams the answer, remembers each answered turn for feedback."""

    def respond(message: str, chat: list[dict[str, Any]] | None, asked: list[str] | None,
                known: dict[str, Any] | None, date_from: str, date_to: str,
                article_ids: list[str] | None) -> Iterator[tuple[Any, ...]]:
        chat = [*(chat or []), {"role": "user", "content": shown_question(message)}]
        known = dict(known or {})
        pending = [*chat, {"role": "assistant", "content": "*Searching the news…*"}]
        yield "", pending, asked or [], known, sources_html(None, "Searching…"), ""
        for partial, reply in service.stream(message, asked or [], date_from, date_to, article_ids):
            if reply is None:
                yield "", [*chat, {"role": "assistant", "content": partial}], gr.skip(), gr.skip(), gr.skip(), \
                    gr.skip()
                continue
            if reply.answer is not None:
                known[str(len(chat))] = {"question": message[:2000], "history": list(asked or []),
                                         "answer": reply.answer.to_json()}
            yield "", [*chat, {"role": "assistant", "content": reply.markdown}], reply.history, known, \
                reply.sources, ""

    return respond


def _browse_tab(gr: Any, service: ChatService) -> Any:
    with gr.Row():
        search = gr.Textbox(label="Title contains", placeholder="words of the title", max_lines=1,
                            elem_id="pq-browse-search", scale=3)
        start = gr.Textbox(label="Published from", placeholder="YYYY-MM-DD", max_lines=1, scale=1)
        end = gr.Textbox(label="Published to", placeholder="YYYY-MM-DD", max_lines=1, scale=1)
    listing = gr.HTML('<p class="pq-empty">loading…</p>', elem_id="pq-browse", js_on_load=OPEN_JS)
    for box in (search, start, end):
        box.submit(service.browse, [search, start, end], [listing], api_visibility="private")
    search.change(service.browse, [search, start, end], [listing], api_visibility="private",
                  trigger_mode="always_last")
    return listing


def check_editors(settings: Settings, auth: list[tuple[str, str]]) -> str:
    """A warning when editors are configured that cannot sign in (or no login exists at all), else ""."""
    editors = settings.server.editors
    if not editors:
        return ""
    if not auth:
        return "server.editors is set but server.auth is empty: the Add articles tab is off until logins exist"
    unknown = sorted(set(editors) - {u for u, _ in auth})
    return f"server.editors names {', '.join(unknown)}, who have no login in server.auth" if unknown else ""


