"""Benchmark (not a test): a 1,000-object welding job run locally with 3 simulated workers.

    .venv/bin/python bench/bench_local_job.py [--objects 1000] [--processes 2] [--before a41551b]
                                              [--cloud-assembly DIR] [--keep-alive-check]

**The job** timed is what a user's headless run does once the app is synthesized and the data is in
the bucket: the runner's ``LocalJob`` opened on the bucket, pre-labeling (the stack's Lambda in
``--processes`` processes), the simulated workers' answers recorded through the runner's own answer
path (``headless.simulate`` -> ``LocalJob.record_answer``, each answer on disk before it counts; in a
tree whose headless mode answers objects as pre-labeling stores them, as it runs there), and
consolidation (``LocalJob.consolidate``: payload, the stack's Lambda, response check, output
manifest). It runs against the runner's own S3 endpoint, which keeps the bucket on disk (every write
made durable before it is acknowledged). Not timed: synthesis, deploying, uploading the data, scoring.

Each tree (this one, and ``--before``, a commit extracted from git) runs the same job in a child
process with only its own code on the import path, on the same data (``--objects`` distinct runs,
a fresh sensor CSV each, generated like the sample data), in the same invocation of this script.
The labels of the two trees are compared object by object (they differ where the simulated answers
are drawn differently: since a41551b each object's from a generator of its own). The floor, measured in the same run,
is the work no runner can avoid: the pre-labeling handler's own computation (CSV parse, three plots,
PNG encoding) for every run in ``--processes`` processes, with no S3 at all.

``--keep-alive-check`` adds the local endpoint's server CPU per request for one object's request mix
(4 reads, 5 writes), served with a connection per request (werkzeug's handler, as before) and kept alive
(the endpoint's handler, ``local_ground_truth.keep_alive``), same server and application. Results go to bench/results/local_job.md.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.util
import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from tree_runs import extract, write_keeping_notes  # noqa: E402,F401  (extract: the other benches import it here)
BEFORE = "a41551b"  # main before headless workers answered while pre-labeling goes on
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def generator():
    spec = importlib.util.spec_from_file_location("generate_welding_data", REPO / "scripts" / "generate_welding_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def make_data(objects: int, folder: Path) -> Path:
    """``objects`` sensor CSVs (classes in turn, seeded) and their truth, in ``folder``."""
    import numpy as np

    gen = generator()
    classes = gen.classes()
    rng = np.random.default_rng(7)
    truth = {}
    (folder / "csv").mkdir(parents=True)
    for number in range(objects):
        kind = classes[number % len(classes)]
        (folder / "csv" / f"run-{number:05d}.csv").write_text(gen.csv_text(gen.sensor_trace(kind, rng)[0]))
        truth[number] = kind
    (folder / "truth.json").write_text(json.dumps(truth))
    return folder


# -- the job, run in a child process with one tree's code --------------------------------------------
def process_cpu(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_busy_cpu() -> float:
    """Seconds of CPU the whole machine has spent busy (every core, /proc/stat) since it started."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


def endpoint_pid() -> int | None:
    """The local S3 endpoint this process started (its child running ``local_ground_truth.local_s3``)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) == os.getpid() and b"local_ground_truth.local_s3" in command:
            return int(entry.name)
    return None


def run_job(tree: Path, assembly: Path, data: Path, processes: int, out: Path) -> None:
    sys.path.insert(0, str(tree))
    import workflows
    from local_ground_truth import headless, local_s3
    from local_ground_truth.job import LocalJob
    from local_ground_truth.stack_reader import read_workflow

    assert Path(headless.__file__).is_relative_to(tree), headless.__file__
    definition = workflows.definition("welding")
    [question] = definition.questions
    spec = read_workflow(assembly, definition.name)
    spec = dataclasses.replace(spec, task=dataclasses.replace(spec.task, workers_per_object=3))
    store = Path(tempfile.mkdtemp(prefix="bench-local-job-")) / "s3"
    kinds = json.loads((data / "truth.json").read_text())
    with local_s3.s3_endpoint(store=store) as endpoint:
        server = endpoint_pid()
        s3 = local_s3.client(endpoint)
        local_s3.deploy(spec, s3)
        bucket = spec.task.manifest.bucket
        image = f"s3://{bucket}/{definition.data_prefix}images/run-01.jpg"
        truth, lines = {}, []
        for number in range(len(kinds)):
            csv_key = f"bench/sensor/run-{number:05d}.csv"
            s3.put_object(Bucket=bucket, Key=csv_key, Body=(data / "csv" / f"run-{number:05d}.csv").read_bytes())
            dataset_key = f"bench/datasets/bench-{number:05d}.json"
            s3.put_object(Bucket=bucket, Key=dataset_key, Body=json.dumps(
                {"image": {"s3Path": image}, "sensor_data": {"s3Path": f"s3://{bucket}/{csv_key}"}}).encode())
            lines.append(json.dumps({"source": f"s3://{bucket}/{dataset_key}"}))
            truth[f"bench-{number:05d}"] = {question.name: kinds[str(number)]}
        manifest = spec.task.manifest
        s3.put_object(Bucket=manifest.bucket, Key=manifest.key, Body=("\n".join(lines) + "\n").encode())

        steps: dict[str, float] = {}
        server_cpu: dict[str, float] = {}
        busy_cpu: dict[str, float] = {}
        busy = [machine_busy_cpu()]

        def step(name: str, started: float, cpu_before: float) -> tuple[float, float]:
            now, cpu = time.perf_counter(), process_cpu(server)
            steps[name], server_cpu[name] = now - started, cpu - cpu_before
            busy.append(machine_busy_cpu())
            busy_cpu[name] = busy[-1] - busy[-2]
            return now, cpu

        mark = start = time.perf_counter()
        cpu = process_cpu(server)
        job = LocalJob(spec, s3, endpoint, "bench-1000", store=store)
        first: list[float] = []  # when the first object was stored, a task a worker could open

        def watch() -> None:
            while not job.object_ids() and time.perf_counter() - start < 600:
                time.sleep(0.01)
            first.append(time.perf_counter() - start)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        if "pre_labeling_ended" in inspect.signature(headless.simulate).parameters:
            # As the runner's headless mode does now: workers answer each object once it is stored.
            reports, ended = [], threading.Event()

            def pre_label() -> None:
                try:
                    reports.append(job.pre_label(processes=processes, progress=False))
                finally:
                    ended.set()
                    steps["pre-labeling ended"] = time.perf_counter() - start

            thread = threading.Thread(target=pre_label)
            thread.start()
            simulation = headless.prepare(job, definition, truth, "bench truth", ended.is_set)
            headless.simulate(job, simulation, 3, 0.8, seed=1, pre_labeling_ended=ended.is_set)
            thread.join()
            [pre] = reports
            mark, cpu = step("pre-labeling and answers", mark, cpu)
        else:  # the tree before: pre-labeling, then the answers
            pre = job.pre_label(processes=processes, progress=False)
            mark, cpu = step("pre-labeling", mark, cpu)
            simulation = headless.prepare(job, definition, truth, "bench truth")
            headless.simulate(job, simulation, 3, 0.8, seed=1)
            mark, cpu = step("answers", mark, cpu)
            steps["pre-labeling and answers"] = steps["pre-labeling"] + steps["answers"]
            steps["pre-labeling ended"] = steps["pre-labeling"]
        watcher.join()
        report = job.consolidate()
        mark, cpu = step("consolidation", mark, cpu)
        total = mark - start
        labels = {entry["source"]: entry.get(spec.label_attribute_name) for entry in job.output_manifest()}
        score = headless.summarize(job, simulation, store.parent / "summary.png")["questions"][question.name]
        answers = sum(len(by_worker) for by_worker in job.answers().values())
        job.close()
    out.write_text(json.dumps({
        "steps": steps, "server_cpu": server_cpu, "busy_cpu": busy_cpu, "total": total, "pre_labeled": pre.done,
        "first_task": first[0],
        "pre_failed": len(pre.failed), "answers": answers, "consolidated": report.consolidated,
        "consolidation_failed": len(report.failed), "accuracy": score["accuracy"], "labels": labels}))


def job_in_child(tree: Path, assembly: Path, data: Path, processes: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "job.json"
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child-job", str(tree), str(assembly), str(data),
                        str(processes), str(out)], check=True, env=env, cwd=tree)
        return json.loads(out.read_text())


# -- the floor: the pre-labeling handler's own computation, no S3 -------------------------------------
def _render(path: str) -> int:
    from welding_pre_labeling.handler import renderer
    from welding_pre_labeling.png import encode_png  # noqa: F401 - imported with the renderer, as in the handler
    from welding_pre_labeling.sensor_csv import parse_sensor_csv

    body = Path(path).read_bytes()
    return sum(len(png) for _, png, _ in renderer().render(parse_sensor_csv(body, path)).values())


def _floor_init(lambda_src: str) -> None:
    sys.path.insert(0, lambda_src)
    from welding_pre_labeling.handler import renderer

    renderer()


def floor(data: Path, processes: int) -> float:
    """Seconds to parse and plot every run in ``processes`` warm processes (started before the clock)."""
    import multiprocessing

    paths = sorted(str(p) for p in (data / "csv").iterdir())
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes, initializer=_floor_init, initargs=(str(REPO / "lambda_src"),)) as pool:
        pool.map(abs, range(processes * 4))  # every process started and its renderer made
        started = time.perf_counter()
        pool.map(_render, paths, chunksize=8)
        return time.perf_counter() - started


# -- keep-alive: the endpoint's server CPU per request, per connection vs kept alive -------------------
_SERVER = r'''
import sys, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from moto import backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server
from local_ground_truth import conditional_writes, s3_store
from local_ground_truth.keep_alive import KeepAliveRequestHandler
conditional_writes.install()
modules = tuple(backends.list_of_moto_modules())
backends.list_of_moto_modules = lambda: modules
app = s3_store.WriteThroughApp(DomainDispatcherApplication(create_backend_app),
                               s3_store.DiskStore(Path(tempfile.mkdtemp(prefix="bench-keep-alive-")) / "s3"))
# The same server and application; only the handler differs: werkzeug's (via moto's), which closes every connection,
# or the endpoint's, which keeps it open.
handler = KeepAliveRequestHandler if sys.argv[1] == "keep-alive" else MotoRequestHandler
server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=handler)
print(server.server_port, flush=True)
server.serve_forever()
'''


KEEP_ALIVE_MODES = ("connection per request", "keep-alive")


def keep_alive_check(objects: int = 150, clients: int = 2, passes: int = 5) -> dict[str, dict[str, float]]:
    """Server and client CPU per request (ms) for ``objects`` x one pre-labeling object's requests: the median of
    ``passes`` passes per mode, the modes alternating (ABBA...) so the machine's noise reaches both alike."""
    import statistics

    measured: dict[str, list[dict[str, float]]] = {mode: [] for mode in KEEP_ALIVE_MODES}
    for number in range(passes):
        for mode in KEEP_ALIVE_MODES if number % 2 == 0 else reversed(KEEP_ALIVE_MODES):
            measured[mode].append(_keep_alive_pass(mode, objects, clients))
    return {mode: {key: statistics.median(one[key] for one in runs) for key in ("server_ms", "client_ms")}
            for mode, runs in measured.items()}


def _keep_alive_pass(mode: str, objects: int, clients: int) -> dict[str, float]:
    """One pass: a fresh endpoint served ``mode``'s way, the request mix from ``clients`` threads."""
    import boto3

    server = subprocess.Popen([sys.executable, "-c", _SERVER, "keep-alive" if mode == "keep-alive" else "close",
                               str(REPO)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        port = int(server.stdout.readline())
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")
        s3.create_bucket(Bucket="bench")
        csv, png = os.urandom(10_000).hex().encode(), os.urandom(15_000)
        for number in range(objects):
            s3.put_object(Bucket="bench", Key=f"csv/{number}.csv", Body=csv)
            s3.put_object(Bucket="bench", Key=f"datasets/{number}.json", Body=b'{"a": "b"}' * 10)
        s3.put_object(Bucket="bench", Key="image.jpg", Body=os.urandom(50_000))

        def one_object_each(part: int) -> None:
            for number in range(part, objects, clients):
                s3.get_object(Bucket="bench", Key=f"datasets/{number}.json")["Body"].read()
                s3.get_object(Bucket="bench", Key="image.jpg", Range="bytes=0-31")["Body"].read()
                try:
                    s3.head_object(Bucket="bench", Key=f"plots/{number}/voltage.png")
                except s3.exceptions.ClientError:
                    pass
                s3.get_object(Bucket="bench", Key=f"csv/{number}.csv")["Body"].read()
                for plot in ("current", "electrode", "voltage"):
                    s3.put_object(Bucket="bench", Key=f"plots/{number}/{plot}.png", Body=png,
                                  ContentType="image/png", Metadata={"source-etag": "x"})
                s3.put_object(Bucket="bench", Key=f"records/{number}.json", Body=b"{}")
                s3.put_object(Bucket="bench", Key=f"task-inputs/{number}.json", Body=b'{"taskInput": {}}' * 10)

        server_before, client_before = process_cpu(server.pid), time.process_time()
        threads = [threading.Thread(target=one_object_each, args=(part,)) for part in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        requests = objects * 9
        return {"server_ms": (process_cpu(server.pid) - server_before) / requests * 1000,
                "client_ms": (time.process_time() - client_before) / requests * 1000}
    finally:
        server.kill()
        server.wait()


# -- the report -----------------------------------------------------------------------------------------
def report(args, runs: dict[str, list[dict]], floors: list[float], same_labels: bool, keep_alive) -> str:
    fastest = {name: min(name_runs, key=lambda run: run["total"]) for name, name_runs in runs.items()}

    def best(name: str, key: str) -> float:  # the step of each tree's fastest run
        run = fastest[name]
        return run["steps"][key] if key in run["steps"] else run[key]

    def server(name: str) -> float:
        return sum(fastest[name]["server_cpu"].values())

    def median(name: str) -> float:
        return statistics.median(run["total"] for run in runs[name])

    def seconds(name_runs: list[dict]) -> str:
        return ", ".join(f"{run['total']:.1f}" for run in name_runs)

    now, before = runs["now"][0], runs["before"][0]
    rows = [(f"pre-labeling (the stack's Lambda, three plots each, responses stored) and {3 * args.objects:,} simulated "
             "answers through the runner's answer path, each on disk", "pre-labeling and answers"),
            ("of which pre-labeling, until its last response is stored", "pre-labeling ended"),
            ("consolidation (payload, the stack's Lambda, response check, output manifest)", "consolidation"),
            ("**the job**", "total")]
    lines = [
        f"## {args.objects:,}-object welding job, 3 simulated workers (accuracy 0.8), {args.processes} pre-labeling "
        f"processes ({datetime.date.today()}, {os.cpu_count()} cores, machine shared; each tree's fastest of "
        f"{len(runs['now'])} runs)",
        "",
        f"| step (wall seconds) | before (`{args.before}`) | now | floor |",
        "| --- | --- | --- | --- |",
    ]
    for label, key in rows:
        floor_cell = f"{min(floors):.1f}" if key == "total" else ""
        if key == "total":
            lines.append(f"| {label} | **{best('before', key):.1f}** | **{best('now', key):.1f}** | **{floor_cell}** |")
        else:
            lines.append(f"| {label} | {best('before', key):.1f} | {best('now', key):.1f} | {floor_cell} |")
    lines += [
        f"| the endpoint's server CPU over the job (seconds) | {server('before'):.1f} | {server('now'):.1f} | |",
        f"| the first object stored, a task a worker can open | {fastest['before']['first_task']:.1f} | "
        f"{fastest['now']['first_task']:.1f} | |",
        "",
        f"The floor: the pre-labeling handler's own computation (CSV parse, three plots, PNG encoding) for the "
        f"{args.objects:,} runs in {args.processes} warm processes, no S3, no durable writes; best of {len(floors)}: "
        f"{', '.join(f'{value:.1f}' for value in floors)} s. Now / floor: {best('now', 'total') / min(floors):.2f}x; "
        f"before / now: {best('before', 'total') / best('now', 'total'):.2f}x.",
        f"Every run: the job's seconds now {seconds(runs['now'])}; before {seconds(runs['before'])} "
        f"(alternating, same data). Median: now {median('now'):.1f}, before {median('before'):.1f}; now faster in "
        f"{sum(a['total'] < b['total'] for a, b in zip(runs['now'], runs['before']))} of {len(runs['now'])} rounds.",
        f"Objects pre-labeled: {now['pre_labeled']:,} (failed {now['pre_failed']}); answers: {now['answers']:,}; "
        f"consolidated: {now['consolidated']:,} (failed {now['consolidation_failed']}); accuracy against the "
        f"generator's truth (Dawid-Skene, the stack's default): now {now['accuracy']:.3f}, before {before['accuracy']:.3f}. "
        f"Output manifest labels, object by object: {'identical' if same_labels else 'DIFFERENT'} before and now.",
        "",
    ]
    if keep_alive:
        lines += [
            "### Keep-alive on the local endpoint",
            "",
            "CPU per request (ms) for one pre-labeling object's requests (4 reads, 5 durable writes) x 150, 2 clients; "
            "median of 5 passes per mode, alternating:",
            "",
            "| served | endpoint (server) | client (boto3) |",
            "| --- | --- | --- |",
        ] + [f"| {mode} | {v['server_ms']:.2f} | {v['client_ms']:.2f} |" for mode, v in keep_alive.items()] + [""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=os.cpu_count())
    parser.add_argument("--before", default=BEFORE, help=f"the commit to compare with (default {BEFORE})")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each tree, alternating (default 1)")
    parser.add_argument("--cloud-assembly", type=Path, help="an app already synthesized, for both trees (default: each tree synthesizes its own)")
    parser.add_argument("--keep-alive-check", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "local_job.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-local-job-") as folder:
        folder = Path(folder)
        data = make_data(args.objects, folder / "data")
        trees = {"now": REPO, "before": extract(args.before, folder / "before")}
        # Each tree runs the app it synthesizes itself: a stack's outputs change with the code that reads them.
        if args.cloud_assembly is None:
            sys.path.insert(0, str(REPO))
            from local_ground_truth.stack_reader import synthesize

            assemblies = {name: synthesize(folder / f"assembly-{name}", repo_root=tree) for name, tree in trees.items()}
        else:
            assemblies = dict.fromkeys(trees, args.cloud_assembly)
        runs: dict[str, list[dict]] = {"now": [], "before": []}
        floors = []
        for _ in range(args.rounds):
            for name in ("before", "now"):
                result = job_in_child(trees[name], assemblies[name].resolve(), data, args.processes)
                runs[name].append(result)
                print(f"{name}: {result['total']:.1f} s {json.dumps(result['steps'])}", flush=True)
            floors.append(floor(data, args.processes))
            print(f"floor: {floors[-1]:.1f} s", flush=True)
        same_labels = all(run["labels"] == runs["now"][0]["labels"] for run in runs["now"] + runs["before"])
        keep_alive = keep_alive_check() if args.keep_alive_check else None
    text = report(args, runs, floors, same_labels, keep_alive)
    print(text)
    # Notes written by hand below the marker (what the figures mean, what was tried) survive a re-run.
    write_keeping_notes(args.out, "# A 1,000-object job on one machine\n\nWritten by `bench/bench_local_job.py`.\n\n"
                        + text)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child-job":
        tree, assembly, data, processes, out = sys.argv[2:7]
        run_job(Path(tree), Path(assembly), Path(data), int(processes), Path(out))
    else:
        main()
