"""The reviewer's pages on the worker server: an expert signs in at ``/review`` with a name (as a worker
does), takes the objects the crowd could not settle (``review_desk``), and decides each one.

- ``/review``: sign in (or, with review off, how to turn it on);
- ``/review/<name>``: what awaits this reviewer (objects they answered as a worker are left to
  others), and the decisions made so far;
- ``/review/<name>/object/<id>``: every worker's answer and the crowd's label and confidence side by
  side, why the object is here, and a form: accept the crowd's labels or pick others (a decided
  object can be decided again: the later decision replaces the earlier one); and the task as workers saw
  it (the next address, in a sandboxed frame: the image, plots or text the expert judges), on the left on a wide
  screen, between the answers and the form on a narrow one (a keyboard passes its controls before the form's);
- ``/review/<name>/object/<id>/task``: the task as workers saw it (the stack's template), read-only.

Decisions are POSTed as same-origin JSON (``{"decision": {question: label}}``), checked against the
question's labels and on disk before the reviewer hears OK. Pages are escaped by Jinja and allow only
their own script and style (Content-Security-Policy); names travel in addresses as workers' do
(``worker_names``).
"""
from __future__ import annotations

import json
import logging
from typing import Any, Optional, Sequence
from urllib.parse import quote, unquote

from flask import Flask, Response, redirect, render_template_string, request

from gt_common import strict_json
from gt_common.questions import Question
from gt_common.review import ABSTAINED, GOLD_MISS, LOW_CONFIDENCE, REVIEW_REASONS, ReviewSettings
from local_ground_truth import worker_names, worker_pages
from local_ground_truth.review_desk import MAX_DECISION_REQUEST_BYTES, ReviewDesk, ReviewRefused
from local_ground_truth.team_access import REQUESTER

LOG = logging.getLogger(__name__)
PREFIX = "/review"
ASSETS = f"{PREFIX}/-"  # the pages' script, style and the preview's dead end: two segments, never a reviewer's page
LISTED = 100  # objects listed by name on a reviewer's page
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
               "frame-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
#: The task as workers saw it runs the stack's template, whose scripts must not act on the review pages: it is
#: sandboxed (an opaque origin: no cookies, storage or same-origin requests, no dialogs) and only this server's
#: own pages may frame it.
PREVIEW_SANDBOX = "allow-scripts allow-top-navigation-by-user-activation"
PREVIEW_POLICY = f"sandbox {PREVIEW_SANDBOX}; frame-ancestors 'self'"
PREVIEW_MESSAGE = "This is a preview: nothing is recorded here. Decide on the review page."
def reason_text(settings: ReviewSettings) -> dict[str, str]:
    """Each review reason in words, as the settings route it (with routeAnyAbstention one abstention routes an object
    the crowd settled: "the crowd could not tell" was not so)."""
    abstained = "a worker could not tell" if settings.route_any_abstention else "the crowd could not tell"
    return {LOW_CONFIDENCE: "confidence under the threshold", ABSTAINED: abstained,
            GOLD_MISS: "a gold item the crowd missed"}

_HEAD = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ title }}</title>
<link rel="stylesheet" href="{{ assets }}/review.css"></head><body>
{% if skip_to_decision %}<a id="skip-to-decision" class="skip" href="#decision-section">Skip to your decision</a>{% endif %}
<header><h1>Expert review</h1><span>{{ job_title }}</span>{% if reviewer %}<span id="reviewer">Reviewing as
<strong>{{ reviewer }}</strong></span>{% endif %}{% if requester_link %}<a href="/requester">Requester's view</a>{% endif %}</header>
<main{% if wide %} class="wide"{% endif %}>{% if notice %}<p id="notice" class="notice" role="status">{{ notice }}</p>{% endif %}"""
_TAIL = """</main><script src="{{ assets }}/review.js"></script></body></html>"""

_SIGN_IN = """<section><h2>Sign in as a reviewer</h2>
{% if enabled %}<p>Objects go to review when {{ rule }}. {{ counts.awaiting }} of {{ counts.routed }} await a
decision ({{ counts.decided }} decided).</p>
<form action="{{ prefix }}" method="get" id="sign-in"><label for="reviewer-name">Your reviewer name</label>
<input id="reviewer-name" name="reviewer" value="{{ typed }}" required autocomplete="username" autocapitalize="off"
 spellcheck="false" aria-describedby="{{ 'name-error ' if error }}name-rule"{% if error %} aria-invalid="true" autofocus{% endif %}>
 <button>Review</button></form>
{% if error %}<p id="name-error" class="notice" role="alert">{{ error }}</p>{% endif %}
<p id="name-rule">Any name, as for workers (letters, digits, spaces and punctuation in any script, up to
{{ max_chars }} characters). You are not given objects you answered as a worker.</p>
{% else %}<p id="review-off">Expert review is off for this job. It is an environment setting (the stack's
<code>ReviewSettings</code>); run the job with <code>--review</code> to turn it on here.</p>{% endif %}</section>"""

_QUEUE = """<section><h2>Awaiting your decision</h2>
<p id="review-counts">{{ queue|length }} for you · {{ counts.awaiting }} of {{ counts.routed }} routed objects await a
decision · {{ counts.decided }} decided · threshold {{ threshold }}</p>
{% if queue %}<p><a id="start" href="{{ base }}/object/{{ queue[0] }}">Start with object {{ queue[0] }}</a></p>
<ol id="queue">{% for oid in queue[:listed] %}<li><a href="{{ base }}/object/{{ oid }}">Object {{ oid }}</a>
<span class="reasons">{{ reasons[oid] }}</span></li>{% endfor %}</ol>
{% if queue|length > listed %}<p>and {{ queue|length - listed }} more.</p>{% endif %}
{% else %}<p id="nothing">Nothing awaits you{% if counts.awaiting %} (the objects left were answered by you as a worker){% endif %}.</p>{% endif %}
</section>
<section><h2>Decided</h2>{% if decided %}<table id="decided"><thead><tr><th>object</th><th>decision</th><th>by</th>
<th>when (UTC)</th></tr></thead><tbody>{% for d in decided[:listed] %}<tr><td><a href="{{ base }}/object/{{ d.object_id }}">{{ d.object_id }}</a></td>
<td>{% for q, v in d.decision.items() %}{{ q }}: {{ v if v is string else v|join(', ') or 'none' }}{{ '' if loop.last else '; ' }}{% endfor %}</td>
<td>{{ d.reviewer }}</td><td>{{ d.decided_at[:19]|replace('T', ' ') }}</td></tr>{% endfor %}</tbody></table>
{% else %}<p>No decision yet.</p>{% endif %}</section>"""

_OBJECT = """<div id="review-layout"><section id="object" data-decide="{{ base }}/object/{{ v.id }}/decision"
 data-replaces="{{ v.decision.key if v.decision else '' }}"><h2>Object {{ v.id }}</h2>
<p><span id="source" title="{{ v.source }}">{{ v.source }}</span> · <a id="task-preview" href="{{ base }}/object/{{ v.id }}/task"
 target="_blank" rel="noopener">the task as workers saw it</a> · <a href="{{ base }}">your queue</a>
 · <span id="progress">{{ left }} await{{ 's' if left == 1 }} your decision{{ ', this one included' if this_awaits }}</span></p>
<p id="reasons">Here because: {% for r in v.reasons %}<strong class="reason">{{ reason_text[r] }}</strong>{{ '' if loop.last else ', ' }}{% else %}nothing (the crowd settled it){% endfor %}.</p>
{% if v.decision %}<p id="current-decision">Decided by <strong>{{ v.decision.reviewer }}</strong> at {{ v.decision.decided_at[:19]|replace('T', ' ') }} UTC.
A new decision replaces it.</p>{% endif %}
<table id="answers"><thead><tr><th>worker</th>{% for q in v.questions %}<th>{{ q.name }}</th>{% endfor %}</tr></thead><tbody>
{% for worker in v.workers %}{% set row = loop.index0 %}<tr class="worker"><td>{{ worker }}</td>{% for q in v.questions %}<td>{{ q.answers[row][1] }}</td>{% endfor %}</tr>{% endfor %}
<tr id="crowd-row"><th>crowd (consolidated)</th>{% for q in v.questions %}<td class="{{ 'routed' if q.reasons else '' }}">{{ q.crowd }}
{% if q.reasons %}<br><span class="reasons">{{ q.reason_words }}</span>{% endif %}</td>{% endfor %}</tr>
</tbody></table></section>
<section id="task-section"><h2>The task as workers saw it</h2>
<iframe id="task-frame" src="{{ base }}/object/{{ v.id }}/task" title="Object {{ v.id }} as workers saw it"
 sandbox="{{ preview_sandbox }}"></iframe>
</section>
<section id="decision-section" tabindex="-1"><h2>Your decision</h2><form id="decision-form">
{% for q in v.questions if q.decided %}<fieldset class="question" data-question="{{ q.name }}" data-multi="{{ 'true' if q.multi else 'false' }}"
 data-crowd='{{ q.crowd_choice|tojson }}'><legend>{{ q.name }}{% if q.reasons %} <span class="reasons">({{ q.reason_words }})</span>{% endif %}</legend>
{% for label in q.classes %}<label><input type="{{ 'checkbox' if q.multi else 'radio' }}" name="{{ q.name }}" value="{{ label }}"
{%- if (q.multi and label in q.chosen) or (not q.multi and label == q.chosen) %} checked{% endif %}{% if not q.multi %} required{% endif %}>
{{ label }}{% if label == q.crowd_choice or (q.multi and label in q.crowd_choice) %} <em>(crowd)</em>{% endif %}</label>
{% endfor %}</fieldset>{% endfor %}
<p><button type="button" id="accept-crowd"{% if not accept %} disabled aria-describedby="accept-why"{% endif %}>Accept the crowd's labels</button>
<button type="submit" id="decide">Save this decision</button> <span id="review-notice" role="status"></span></p>
{% if not accept %}<p id="accept-why">The crowd's answer to a question is no label (its workers could not tell, or
gave none): pick one to decide.</p>{% endif %}</form></section></div>"""

_CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{background:#3b2f4a;color:#fff;padding:.55rem 1.2rem;display:flex;gap:1.2rem;align-items:baseline;flex-wrap:wrap;
overflow-wrap:anywhere}
header h1{font-size:1.1rem;margin:0}header a{color:#d2b8ff;margin-left:auto}main{padding:.8rem 1.2rem;max-width:80rem}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:.55rem .9rem;margin-bottom:1rem;overflow-x:auto}
td{overflow-wrap:anywhere}h2{font-size:1rem;margin:.1rem 0 .45rem}table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:.25rem .45rem;border-bottom:1px solid #eaeef2;vertical-align:top}th{background:#f6f8fa}
#crowd-row td,#crowd-row th{border-top:2px solid #8c959f;font-weight:600}.routed{background:#fff4ce}
.reasons{color:#8a4b00;font-size:12px;font-weight:400}fieldset{border:1px solid #d0d7de;margin:0 0 .6rem;padding:.35rem .7rem;min-width:0}
fieldset label{display:inline-block;margin:.15rem 1rem .15rem 0;overflow-wrap:anywhere}button{font:inherit;padding:.3rem .7rem}
.notice{background:#fff4ce;border:1px solid #e0c060;padding:.5rem .8rem}#review-notice{color:#cf222e}
code{background:#f6f8fa;padding:0 .2rem}#source{word-break:break-all}
.skip{position:absolute;left:-10000px}.skip:focus{position:static;display:inline-block;margin:0 0 .5rem}
#task-frame{width:100%;height:760px;border:1px solid #d0d7de;resize:vertical}
#review-layout{display:grid;gap:0 1rem;grid-template-columns:minmax(0,1fr)}
@media (min-width:1100px){main.wide{max-width:none}
/* Wide screens: the evidence (the task as workers saw it) on the left, the answers and the decision beside it. */
#review-layout{grid-template-columns:minmax(0,3fr) minmax(24rem,2fr);grid-template-areas:"task object" "task decision" "task rest";
 grid-template-rows:auto auto 1fr;align-items:start}
#object{grid-area:object}#decision-section{grid-area:decision}#task-section{grid-area:task}
#task-frame{height:calc(100vh - 9rem);min-height:560px}}
/* A tablet: a finger needs a 44 px target (WCAG 2.5.5), each class of the decision and each object of the queue too */
@media (pointer:coarse){input,button{min-height:44px;box-sizing:border-box}
fieldset label{display:inline-flex;align-items:center;gap:.3rem;min-height:44px;margin-top:0;margin-bottom:0}
fieldset input{width:20px;height:20px}
#start,#queue a,header a,.skip:focus{display:inline-flex;align-items:center;min-height:44px;min-width:44px}}"""

# Sends the form as JSON (the server takes decisions only as same-origin JSON) and follows to the next object.
_JS = """(() => {
  const form = document.getElementById('decision-form');
  if (!form) return;
  const notice = document.getElementById('review-notice');
  const target = document.getElementById('object').dataset.decide;
  const replaces = document.getElementById('object').dataset.replaces;  // the decision this page showed, if any
  const fieldsets = Array.from(form.querySelectorAll('fieldset.question'));
  function chosen() {
    const decision = {};
    for (const set of fieldsets) {
      const boxes = Array.from(set.querySelectorAll('input'));
      if (set.dataset.multi === 'true') decision[set.dataset.question] = boxes.filter(b => b.checked).map(b => b.value);
      else { const on = boxes.find(b => b.checked); if (on) decision[set.dataset.question] = on.value; }
    }
    return decision;
  }
  function crowds() {
    const decision = {};
    for (const set of fieldsets) decision[set.dataset.question] = JSON.parse(set.dataset.crowd);
    return decision;
  }
  async function send(decision) {
    for (const button of form.querySelectorAll('button')) button.disabled = true;
    notice.textContent = 'Saving...';
    try {
      const response = await fetch(target, {method: 'POST', headers: {'Content-Type': 'application/json'},
                                            body: JSON.stringify({decision, replaces})});
      const result = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(result.error || ('the server answered HTTP ' + response.status));
      window.location.assign(result.next);
    } catch (error) {
      // fetch's own TypeError: no answer came back, so whether the decision was saved is not known here.
      notice.textContent = error instanceof TypeError
        ? 'Could not reach the labeling server: this page cannot tell whether your decision was saved. Press Save ' +
          'again when it answers (a decision saved twice is recorded once).'
        : 'Not saved: ' + error.message;
      for (const button of form.querySelectorAll('button')) button.disabled = button.id === 'accept-crowd' && button.hasAttribute('aria-describedby');
    }
  }
  form.addEventListener('submit', event => { event.preventDefault(); send(chosen()); });
  document.getElementById('accept-crowd').addEventListener('click', () => send(crowds()));
})();"""

_PREVIEW_BAR = """<div id="local-gt-preview" style="position:sticky;top:0;z-index:100;background:#3b2f4a;color:#fff;
padding:8px 14px;font:14px system-ui,sans-serif">Preview of object {{ object_id }} as workers saw it: nothing is recorded
here. Decide on the <a style="color:#d2b8ff" href="{{ back }}" target="_top">review page</a>.</div>"""


def routing_rule(settings: ReviewSettings, questions: Optional[Sequence[Question]] = None) -> str:
    """Which objects go to experts, in words, as the settings say (the rule itself: ``gt_common.review``); abstaining
    is named only when one of ``questions`` (all, when not given) has an abstain label."""
    if questions is not None and not any(getattr(question, "abstain", None) for question in questions):
        return f"a question's confidence is under {settings.threshold} or a gold item was missed"
    abstaining = "any worker could not tell" if settings.route_any_abstention else "most workers could not tell"
    return f"a question's confidence is under {settings.threshold}, {abstaining}, or a gold item was missed"


def reviewer_base(reviewer: str) -> str:
    return f"{PREFIX}/{worker_names.path_segment(reviewer)}"


def register_reviewer(app: Flask, site, desk: ReviewDesk, foreign, own_port) -> None:
    """Add the reviewer's pages to the worker server's application. ``site``: its ``WorkerSite`` (for the
    task page); ``foreign(request)``: why a POST is not the server's own page's JSON (None when it is);
    ``own_port()``: the server's port as the request names it (its cookies are named with it)."""
    job = site.job
    job_title = job.spec.task.title

    def html(body: str, status: int = 200) -> Response:
        return Response(body, status, mimetype="text/html",
                        headers={"Cache-Control": "no-store", "Content-Security-Policy": PAGE_POLICY})

    def page(title: str, body_template: str, status: int = 200, reviewer: Optional[str] = None, notice: str = "",
             **values: Any) -> Response:
        requester_link = site.team is None or site.team.allowed(REQUESTER, request.cookies, own_port())
        return html(render_template_string(_HEAD + body_template + _TAIL, title=title, job_title=job_title,
                                           prefix=PREFIX, assets=ASSETS, reviewer=reviewer, notice=notice,
                                           requester_link=requester_link, **values), status)

    def json_response(value: dict, status: int = 200) -> Response:
        return Response(json.dumps(value), status, mimetype="application/json", headers={"Cache-Control": "no-store"})

    reviewer_of = worker_names.kept_name_in_path

    def worker_too() -> Optional[str]:
        """The named worker this browser is signed in as (by their own link), if any: the same person reviews."""
        return None if site.team is None else site.team.signed_in_as(request.cookies, own_port())

    def to_sign_in(segment: str) -> Response:
        return redirect(f"{PREFIX}?reviewer=" + quote(worker_names.typed_in_path(segment), safe=""), 303)

    def reasons_line(object_id: str) -> str:
        given = desk.reasons(object_id).values()
        words = reason_text(desk.settings)
        return ", ".join(words[r] for r in REVIEW_REASONS if any(r in reasons for reasons in given))

    def next_url(reviewer: str, saved: str) -> str:
        """Where a reviewer goes once their decision on ``saved`` is recorded: the next object, else their queue (the
        page they land on says the decision was saved)."""
        queue = desk.queue(reviewer, worker_too())
        base = reviewer_base(reviewer)
        return (f"{base}/object/{queue[0]}" if queue else base) + "?saved=" + quote(saved, safe="")

    def notice_for(reviewer: str, queue_empty: bool) -> str:
        """What the page's notice says, from what the address names (``saved``: an object this reviewer decided;
        ``answered``: one they may not decide), checked here: an address can make the page say nothing else."""
        saved, answered = request.args.get("saved", ""), request.args.get("answered", "")
        words = []
        if saved and (decided := desk.decision(saved)) is not None and worker_names.same_person(decided.reviewer,
                                                                                                 reviewer):
            chosen = "; ".join(f"{q}: {v if isinstance(v, str) else ', '.join(v) or 'none'}"
                               for q, v in decided.decision.items())
            words.append(f"Saved your decision on object {saved} ({chosen}).")
            if queue_empty:
                words.append("Nothing else awaits you. Thank you!")
        if answered and job.is_object(answered) and not desk.may_review(reviewer, answered, worker_too()):
            words.append(f"You answered object {answered} as a worker; another reviewer decides it.")
        return " ".join(words)

    @app.get(PREFIX)
    def review_sign_in():
        typed = request.args.get("reviewer")
        if typed is None or not desk.enabled:
            return page("Expert review", _SIGN_IN, enabled=desk.enabled, counts=desk.counts(), typed="",
                        rule=routing_rule(desk.settings, desk.questions), error="", max_chars=worker_names.MAX_CHARACTERS)
        try:
            reviewer = worker_names.canonical(typed)
        except worker_names.BadName as error:
            return page("Choose another name", _SIGN_IN, 400, enabled=True, counts=desk.counts(), typed=typed[:500],
                        rule=routing_rule(desk.settings, desk.questions), error=str(error), max_chars=worker_names.MAX_CHARACTERS)
        return redirect(reviewer_base(reviewer), 303)

    @app.get(f"{ASSETS}/review.css")
    def review_css():
        return Response(_CSS, mimetype="text/css", headers={"Cache-Control": "no-store"})

    @app.get(f"{ASSETS}/review.js")
    def review_js():
        return Response(_JS, mimetype="text/javascript", headers={"Cache-Control": "no-store"})

    @app.get(f"{PREFIX}/<name>")
    def review_queue(name: str):
        try:
            reviewer = reviewer_of(name)
        except worker_names.BadName:
            return to_sign_in(name)
        if not desk.enabled:
            return redirect(PREFIX, 303)
        queue = desk.queue(reviewer, worker_too())
        decided = sorted((d for oid in desk.under_review() if (d := desk.decision(oid)) is not None),
                         key=lambda d: d.decided_at, reverse=True)
        return page(f"Review · {reviewer}", _QUEUE, reviewer=reviewer, notice=notice_for(reviewer, not queue),
                    queue=queue, decided=decided, counts=desk.counts(), threshold=desk.settings.threshold,
                    reasons={oid: reasons_line(oid) for oid in queue[:LISTED]}, listed=LISTED,
                    base=reviewer_base(reviewer))

    @app.get(f"{PREFIX}/<name>/object/<object_id>")
    def review_object(name: str, object_id: str):
        try:
            reviewer = reviewer_of(name)
        except worker_names.BadName:
            return to_sign_in(name)
        object_id = unquote(object_id)
        if not desk.enabled:
            return redirect(PREFIX, 303)
        base = reviewer_base(reviewer)
        if not job.is_object(object_id):
            return page("Not found", "<p>There is no object {{ oid }} in this job. <a href=\"{{ base }}\">Your queue</a>"
                        "</p>", 404, reviewer=reviewer, oid=object_id, base=base)
        if not desk.reasons(object_id):
            return page("Not for review", "<p>Object {{ oid }} is not for review: it is not consolidated yet, or the "
                        "crowd settled it. <a href=\"{{ base }}\">Your queue</a></p>", 404, reviewer=reviewer,
                        oid=object_id, base=base)
        if not desk.may_review(reviewer, object_id, worker_too()):
            return redirect(f"{base}?answered=" + quote(object_id, safe=""), 303)
        desk.viewing(reviewer, object_id)
        view = desk.view(object_id)
        for question in view["questions"]:
            question["reason_words"] = ", ".join(reason_text(desk.settings)[r] for r in question["reasons"])
        accept = all(q["crowd_choice"] is not None for q in view["questions"] if q["decided"])
        queue = desk.queue(reviewer, worker_too())
        return page(f"Review object {object_id}", _OBJECT, reviewer=reviewer, v=view, base=base, wide=True,
                    notice=notice_for(reviewer, not queue), left=len(queue), this_awaits=object_id in queue,
                    reason_text=reason_text(desk.settings), accept=accept, preview_sandbox=PREVIEW_SANDBOX,
                    skip_to_decision=True)

    @app.post(f"{PREFIX}/<name>/object/<object_id>/decision")
    def review_decision(name: str, object_id: str):
        try:
            reviewer = reviewer_of(name)
        except worker_names.BadName as error:
            return json_response({"error": f"Unknown reviewer: {error}"}, 404)
        if (refused := foreign(request)) is not None:
            status, reason = refused
            return json_response({"error": reason}, status)
        object_id = unquote(object_id)
        body = request.get_data(cache=False)
        try:
            if len(body) > MAX_DECISION_REQUEST_BYTES:
                raise ReviewRefused(413, f"A decision is at most {MAX_DECISION_REQUEST_BYTES:,} bytes.")
            try:
                sent = strict_json.loads(body, max_depth=8, unique_keys=True)
            except strict_json.JSONError as error:
                raise ReviewRefused(400, f"The decision {error}.") from None
            if (not isinstance(sent, dict) or not {"decision"} <= set(sent) <= {"decision", "replaces"}
                    or not isinstance(sent.get("replaces", ""), str)):
                raise ReviewRefused(400, 'Send {"decision": {question: label}} (and "replaces": the key of the '
                                         'decision you saw, "" for none).')
            recorded = desk.decide(object_id, reviewer, sent["decision"], replaces=sent.get("replaces"),
                                   also=worker_too())
        except ReviewRefused as error:
            LOG.info("refused a decision of reviewer %r on object %s: %s", reviewer, object_id, error.reason)
            return json_response({"error": error.reason}, error.status)
        return json_response({"recorded": recorded.as_json(), "next": next_url(reviewer, object_id)})

    @app.get(f"{PREFIX}/<name>/object/<object_id>/task")
    def review_task_preview(name: str, object_id: str):
        try:
            reviewer = reviewer_of(name)
        except worker_names.BadName:
            return to_sign_in(name)
        object_id = unquote(object_id)
        if not job.is_for_workers(object_id):
            return Response("There is no such task in this job.", 404, mimetype="text/plain")
        from local_ground_truth.server import CROWD_ELEMENTS_URL

        bar = render_template_string(_PREVIEW_BAR, object_id=object_id,
                                     back=f"{reviewer_base(reviewer)}/object/{object_id}")
        task = site.page(object_id).replace(CROWD_ELEMENTS_URL, "/static/crowd-html-elements.js")
        # Submitting from the preview sends nothing (the crowd elements say PREVIEW_MESSAGE), and the address it would
        # go to refuses every POST.
        head = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Preview</title>"
                f"<style>{worker_pages.BODY_STYLE}</style><script>"
                f"window.LOCAL_GT_SUBMIT_URL = {json.dumps(ASSETS + '/preview-submit')}; "
                f"window.LOCAL_GT_PREVIEW = {json.dumps(PREVIEW_MESSAGE)};</script></head><body>")
        return Response(head + bar + task + "</body></html>", mimetype="text/html",
                        headers={"Cache-Control": "no-store", "Content-Security-Policy": PREVIEW_POLICY})

    @app.post(f"{ASSETS}/preview-submit")
    def review_preview_submit():
        return json_response({"error": PREVIEW_MESSAGE}, 403)
