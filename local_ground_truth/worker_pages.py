"""The runner's own pages around a worker's tasks: sign-in, the queue, and the bar above each task page.

None of this is part of the stack's template: it stands where Ground Truth's worker portal shows the
worker's name, the task's place and the way back. Every value is written through Jinja's autoescape
(a worker's name is any printable text: ``worker_names``), and what a script reads arrives through
``tojson``. The task bar defines the globals the offline crowd elements read
(``LOCAL_GT_SUBMIT_URL``, ``LOCAL_GT_QUEUE_URL``) and ``LOCAL_GT_DRAFT_KEY``, the key under which a
template may keep a draft of this worker's answer to this object (a template falls back to a key of
its own inside Ground Truth); ``--local-gt-top`` tells the crowd elements how much of the viewport the
bar takes, so a panel that must stay in view (the classifier's categories and Submit) fits below it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from flask import render_template_string

from local_ground_truth import worker_names

QUEUE_LISTED = 50  # tasks listed by name on the queue page; "Start the next task" reaches the rest
PREPARING_RECHECK_SECONDS = 3  # an empty queue reloads this often while pre-labeling is still running
HELD_RECHECK_SECONDS = 10  # ... and this often while the tasks left are held by others (a lease lasts minutes)
MORE_DATA_RECHECK_SECONDS = 10  # ... and this often once it is empty, while data added to the job may still come
#: An open task page says it is open this often; the server gives its task back when no page of the worker's on it
#: was heard of for ``SILENT_SECONDS`` (browsers run a hidden tab's timers about once a minute: five beats of room).
ALIVE_SECONDS = 30
SILENT_SECONDS = 150
#: The page around a task, as workers see it (the reviewers' preview of the task draws it the same).
BODY_STYLE = "body { margin: 0; font-family: system-ui, sans-serif; }"

SIGN_IN = """<h1>{{ task_title }}</h1>
<form action="/" method="get" id="sign-in"><label for="worker">Your worker name</label>
<input id="worker" name="worker" value="{{ typed }}" required autocomplete="username" autocapitalize="off"
 spellcheck="false" aria-describedby="{{ 'name-error ' if error }}name-rule" autofocus{% if error %} aria-invalid="true"{% endif %}>
 <button>Start</button></form>
{% if error %}<p id="name-error" class="notice" role="alert">{{ error }}</p>{% endif %}
<p id="name-rule">Any name you like, in any script: letters, digits, spaces and punctuation, up to
{{ max_chars }} characters.</p>
<p><a id="requester-link" href="/requester">Requester's view</a>: the job's progress, quality and output.</p>"""

QUEUE = """<script>
// Looks again without the notice that brought the worker here ("nothing is left"): it said why the queue was empty.
function reloadQueue() { const url = new URL(location.href); url.searchParams.delete("notice"); location.replace(url); }
</script>
<h1><span id="queue-worker">{{ worker }}</span>: your tasks</h1>
<p id="progress">You answered {{ done }} of {{ total }}; {{ waiting }} waiting.
<progress max="{{ total }}" value="{{ done }}" aria-label="Answered">{{ done }} of {{ total }}</progress></p>
{% if tasks %}<p><a id="start" href="/worker/{{ worker_path }}/next">Start the next task</a></p>
<ul id="queue">{% for task in tasks %}<li><a href="/worker/{{ worker_path }}/task/{{ task.object_id }}">Task {{ task.position }}</a></li>{% endfor %}</ul>
{% if waiting > tasks|length %}<p>and {{ waiting - tasks|length }} more.</p>{% endif %}
{% elif preparing %}<p id="preparing">More tasks are being prepared (pre-labeling is still running); this page
looks again every few seconds.</p><script>setTimeout(reloadQueue, {{ recheck_ms }});</script>
{% elif held_by_others %}<p id="held">{{ held_by_others }} {{ "task is" if held_by_others == 1 else "tasks are" }}
being labeled by others right now; one comes back to the pool when its page is closed unanswered or its time limit
runs out. This page looks again every few seconds.</p><script>setTimeout(reloadQueue, {{ held_recheck_ms }});</script>
{% elif more_may_come %}<p id="done">Nothing left for you now. Thank you! More data may join this job: this page
looks again every {{ more_recheck_seconds }} seconds.</p><script>setTimeout(reloadQueue, {{ more_recheck_seconds * 1000 }});</script>
{% else %}<p id="done">Nothing left for you. Thank you!</p>{% endif %}
{% if switch %}<p><a id="switch-worker" href="/">Sign in as someone else</a></p>
{% else %}<p id="own-link">You are signed in by your own link: this browser labels as {{ worker }} only.</p>{% endif %}"""

TASK_HEAD = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ title }}</title>
<script>window.LOCAL_GT_SUBMIT_URL = {{ submit_url|tojson }}; window.LOCAL_GT_QUEUE_URL = {{ queue_url|tojson }};
window.LOCAL_GT_SKIP_URL = {{ skip_url|tojson }}; window.LOCAL_GT_DRAFT_KEY = {{ draft_key|tojson }};
window.LOCAL_GT_LEAVE_URL = {{ leave_url|tojson }}; window.LOCAL_GT_PAGE_TOKEN = {{ page_token|tojson }};
window.LOCAL_GT_ALIVE_URL = {{ alive_url|tojson }}; window.LOCAL_GT_ALIVE_MS = {{ alive_ms|tojson }};</script>
<style>
:root { --local-gt-top: 44px; }  /* the height of the task bar below */
{{ body_style }}
#local-gt-bar { position: sticky; top: 0; z-index: 100; box-sizing: border-box; height: 44px; display: flex;
  gap: 16px; align-items: center; padding: 0 14px; background: #232f3e; color: #fff; font: 14px/1.2 system-ui, sans-serif; }
/* What does not fit on one line even with the name shrunk (a tablet, a long time warning) wraps onto another, and the
   task below starts under the taller bar (the script at the end sets both): nothing goes off the side of the page. */
#local-gt-bar.local-gt-wrap { height: auto; min-height: 44px; flex-wrap: wrap; row-gap: 4px; padding: 5px 14px; }
#local-gt-bar a { color: #fff; }
/* Read by screen readers, not shown: the page's heading and what the clock says when it turns (the bar has both). */
.local-gt-unseen { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; }
#local-gt-bar a:focus-visible, #local-gt-bar button:focus-visible { outline: 3px solid #ffb84d; outline-offset: 2px; }
#local-gt-bar progress { width: 90px; vertical-align: middle; }
#local-gt-bar .local-gt-spacer { flex: 1; }
#local-gt-bar .local-gt-object { color: #c3cbd4; font-size: 0.9em; }
#local-gt-time.local-gt-late { background: #ffb84d; color: #1f2933; padding: 2px 6px; border-radius: 4px; font-weight: bold; }
#local-gt-bar button { font: inherit; padding: 4px 10px; border-radius: 4px; border: 1px solid #9aa5b1;
  background: #37475a; color: #fff; cursor: pointer; }
#local-gt-bar button:hover { background: #485769; }
/* A finger needs a 44 px target (WCAG 2.5.5): the way back to the queue and Skip task were 17 and 27 px tall. */
@media (pointer: coarse) { #local-gt-bar a, #local-gt-bar button { min-height: 44px; box-sizing: border-box;
  display: inline-flex; align-items: center; } }
#local-gt-worker { max-width: 22em; min-width: 3em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
  flex-shrink: 1; }  /* shrinks (cut with "...") before a long time warning pushes it off the bar */
#local-gt-notice { color: #ffd580; max-width: 32em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
#local-gt-task { padding: 6px 12px 12px; }
#local-gt-bar > * { white-space: nowrap; }
/* A phone: the bar wraps its parts onto lines of their own and scrolls away with the page (a sticky bar of
   several lines would take the task's room); the notice gets a whole line, so it is read, not cut to "Th...". */
@media (max-width: 700px) {
  :root { --local-gt-top: 0px; }
  #local-gt-bar { position: static; height: auto; min-height: 44px; flex-wrap: wrap; gap: 6px 12px; padding: 6px 10px; }
  #local-gt-bar .local-gt-spacer { display: none; }
  #local-gt-notice { order: 10; flex-basis: 100%; max-width: none; white-space: normal; }
  #local-gt-notice:empty { display: none; }
  #local-gt-worker { max-width: 100%; }
  /* The bar has scrolled away while the worker chooses: in the last minute the time left stays in sight. */
  #local-gt-time.local-gt-late { position: fixed; right: 10px; bottom: 10px; z-index: 101; white-space: normal;
    max-width: calc(100vw - 40px); box-shadow: 0 2px 8px rgba(0, 0, 0, .35); }
}
</style>
</head><body>
<header id="local-gt-bar" aria-label="Task bar">
<a id="local-gt-queue" href="{{ queue_url }}">&larr; Your queue</a>
<span id="local-gt-position">Task <strong>{{ position }}</strong> of {{ total }}
<span class="local-gt-object" title="How the requester names this task: tell them this when you report a problem">(object {{ object_id }})</span></span>
<span id="local-gt-progress"><progress max="{{ total }}" value="{{ done }}" aria-label="Answered"></progress>
{{ done }} answered, {{ waiting }} waiting</span>
{% if seconds_left is not none %}<span id="local-gt-time" data-seconds-left="{{ seconds_left|int }}"
 title="How long this task stays yours: after that it may go to another worker">{{ (seconds_left|int) // 60 }}:{{ '%02d' % ((seconds_left|int) % 60) }} left</span>{% endif %}
<span class="local-gt-spacer"></span>
<span id="local-gt-notice" role="status" title="{{ notice }}">{{ notice }}</span>
<span id="local-gt-time-said" class="local-gt-unseen" role="status"></span>
<button type="button" id="local-gt-skip" title="Give this task back (others may take it) and open your next one">Skip task</button>
<span id="local-gt-worker" title="{{ worker }}">Signed in as <strong>{{ worker }}</strong></span>
</header>
<main id="local-gt-task">
<h1 class="local-gt-unseen">{{ title }}</h1>
"""

TASK_TAIL = """
</main>
<script>
(function () {
  "use strict";
  // The bar on one line while its parts fit there (the name shrinking first), else on as many as they need; the
  // page's --local-gt-top follows its height while it stays at the top (not on a phone, where it scrolls away).
  var bar = document.getElementById("local-gt-bar");
  function fitBar() {
    bar.classList.remove("local-gt-wrap");
    if (bar.scrollWidth > bar.clientWidth + 1) bar.classList.add("local-gt-wrap");
    var top = getComputedStyle(bar).position === "sticky" ? bar.getBoundingClientRect().height : 0;
    document.documentElement.style.setProperty("--local-gt-top", top + "px");
  }
  fitBar();
  window.addEventListener("resize", fitBar);
  // Skip is a navigation, not a request: a template's own "leave with unsaved work?" prompt comes first, and the
  // task is given back only if the worker does leave.
  document.getElementById("local-gt-skip").addEventListener("click", function () {
    window.location.assign(window.LOCAL_GT_SKIP_URL);
  });
  // Leaving the page unanswered (the queue link, a reload, closing the tab) gives the task back at once rather
  // than when its time limit runs out (a closing tab's request may be dropped: then the time limit applies). The
  // server ignores it while another of the worker's pages on the task is open (a reload, a second tab) and once the
  // task was answered or skipped. A beacon: the browser sends it after the page is gone.
  window.addEventListener("pagehide", function () {
    if (!window.LOCAL_GT_PAGE_TOKEN) return;
    navigator.sendBeacon(window.LOCAL_GT_LEAVE_URL,
      new Blob([JSON.stringify({ page: window.LOCAL_GT_PAGE_TOKEN })], { type: "application/json" }));
  });
  // While the page is open it says so now and then: a page the server stops hearing from (a browser that crashed,
  // a laptop asleep, a lost network) gives its task back after a while instead of at its time limit. Should the
  // worker come back, their answer is still taken while the slot is free.
  // Its answer says whether the task is still this page's to answer: answered in another tab, or given back.
  var TOLD = {
    answered: "You answered this task in another tab or window: this one cannot be answered again.",
    released: "This task was given back (its time ran out, or the requester freed it): your answer is taken only " +
              "if no one else took the task."
  };
  function alive() {
    if (!window.LOCAL_GT_PAGE_TOKEN) return;
    fetch(window.LOCAL_GT_ALIVE_URL, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ page: window.LOCAL_GT_PAGE_TOKEN }), keepalive: true })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        var notice = document.getElementById("local-gt-notice");
        if (!answer || !notice || !TOLD[answer.state]) return;
        notice.textContent = TOLD[answer.state];
        notice.title = TOLD[answer.state];
        fitBar();
      })
      .catch(function () {});
  }
  setInterval(alive, window.LOCAL_GT_ALIVE_MS);
  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "visible") alive(); });
  // The task's time limit, counted down in the bar: a minute before it runs out the bar says so (the task may then
  // go to another worker, whose answer would be taken instead), and once it has, that submitting may be refused.
  var clock = document.getElementById("local-gt-time");
  // On a phone the late clock is fixed at the foot of the screen: the page keeps room below its end for it, so that
  // scrolled to the end, Submit is not under "Time is up: submit now".
  var roomForClock = function () {
    var fixed = clock && window.getComputedStyle(clock).position === "fixed";
    document.body.style.paddingBottom = fixed ? (clock.offsetHeight + 20) + "px" : "";
  };
  window.addEventListener("resize", function () { if (clock) roomForClock(); });
  if (clock) {
    var ends = Date.now() + Number(clock.getAttribute("data-seconds-left")) * 1000, said = "";
    var tick = function () {
      var left = Math.max(0, Math.round((ends - Date.now()) / 1000));
      var shown = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
      if (left === 0) {
        clock.textContent = "Time is up: submit now (the task may have gone to someone else)";
      } else {
        clock.textContent = shown + (left <= 60 ? " left: submit soon" : " left");
      }
      clock.className = left <= 60 ? "local-gt-late" : "";
      var saying = left === 0 ? "up" : left <= 60 ? "late" : "";  // the clock's words grow longer: fit them again
      if (saying !== said) {
        said = saying;
        fitBar();
        roomForClock();
        // Said once as it turns, not every second: a screen reader hears the warning the bar shows.
        document.getElementById("local-gt-time-said").textContent = saying === "up"
          ? "Time is up on this task: submit now (it may have gone to someone else)."
          : saying === "late" ? "One minute left on this task: submit soon." : "";
      }
      if (left > 0) window.setTimeout(tick, 1000);
    };
    tick();
  }
  // Back to this page from the browser's cache: its task was given back, so take it again (or hear who has it).
  window.addEventListener("pageshow", function (event) { if (event.persisted) window.location.reload(); });
})();
</script>
</body></html>"""


@dataclass(frozen=True)
class Place:
    """Where a worker stands in the job: this task's number in their order, and their progress."""

    position: int
    total: int
    done: int
    waiting: int
    seconds_left: Optional[float] = None  # of the worker's hold on the task (None: not held)


def worker_base(worker: str) -> str:
    return f"/worker/{worker_names.path_segment(worker)}"


def sign_in(task_title: str, typed: str = "", error: str = "") -> str:
    """The sign-in form; ``error``: why ``typed`` is no name, shown under the field and tied to it."""
    return render_template_string(SIGN_IN, task_title=task_title, typed=typed, error=error,
                                  max_chars=worker_names.MAX_CHARACTERS)


def queue(worker: str, tasks: list[tuple[str, int]], done: int, total: int, waiting: int,
          preparing: bool = False, held_by_others: int = 0, switch: bool = True, more_may_come: bool = False) -> str:
    """``preparing``: pre-labeling is still running, so an empty queue may fill (the page reloads itself);
    ``held_by_others``: objects left for this worker that others hold now (an empty queue reloads itself too);
    ``more_may_come``: objects may join the job while it runs (``data_growth``): an empty queue reloads itself, slowly;
    ``switch``: the worker may sign in as someone else (not when their own link signed them in)."""
    listed = [{"object_id": oid, "position": position} for oid, position in tasks[:QUEUE_LISTED]]
    return render_template_string(QUEUE, worker=worker, worker_path=worker_names.path_segment(worker), tasks=listed,
                                  done=done, total=total, waiting=waiting, preparing=preparing,
                                  held_by_others=held_by_others, recheck_ms=int(PREPARING_RECHECK_SECONDS * 1000),
                                  held_recheck_ms=int(HELD_RECHECK_SECONDS * 1000), switch=switch,
                                  more_may_come=more_may_come, more_recheck_seconds=MORE_DATA_RECHECK_SECONDS)


def task_page(template_html: str, *, job_title: str, job_name: str, worker: str, object_id: str, place: Place,
              notice: str = "", page_token: str = "") -> str:
    """The stack's rendered template inside the runner's page: a doctype, a title, the task bar. ``page_token``:
    what the page sends to ``leave`` when it goes away unanswered (none: it sends nothing)."""
    base = worker_base(worker)
    task = f"{base}/task/{object_id}"
    head = render_template_string(
        TASK_HEAD, title=f"Task {place.position} of {place.total} \u00b7 {job_title}", worker=worker,
        position=place.position, total=place.total, done=place.done, waiting=place.waiting, notice=notice,
        seconds_left=place.seconds_left, object_id=object_id,
        body_style=BODY_STYLE, submit_url=f"{task}/submit", skip_url=f"{task}/skip", leave_url=f"{task}/leave",
        alive_url=f"{task}/alive", alive_ms=int(ALIVE_SECONDS * 1000), page_token=page_token, queue_url=base,
        draft_key=f"local-gt-draft:{job_name}/{object_id}/{worker}")
    return head + template_html + TASK_TAIL
