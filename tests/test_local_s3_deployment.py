"""Replaying a stack's BucketDeployments on the runner's endpoint (``local_s3.plan_deployment``): what is written,
what is left, and what is looked at to decide it."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from local_ground_truth import local_s3
from local_ground_truth.stack_reader import DeploymentSpec

BUCKET = "deploy-test"


def _folder(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _spec(*deployments: DeploymentSpec):
    return SimpleNamespace(buckets={"Bucket": BUCKET}, deployments=list(deployments))


def _requests(s3) -> list[str]:
    """The names of the operations ``s3`` sends, as it sends them."""
    sent: list[str] = []
    s3.meta.events.register("before-call.s3", lambda model, **_: sent.append(model.name))
    return sent


def test_a_deployment_that_does_not_prune_looks_up_only_its_own_files(tmp_path):
    """A workflow's template and manifest deployments share the bucket's root with the job's output: listing the
    root for each read every answer the job holds (26 s on a resumed job of 10,200 answers). Without Prune a
    deployment owns only its files: each is looked up, nothing is listed, and the plan is the same."""
    data = _folder(tmp_path / "data", {"runs/a.json": "a", "runs/b.json": "b"})
    template = _folder(tmp_path / "template", {"template.liquid.html": "<p>{{ task.input.x | escape }}</p>"})
    manifest = _folder(tmp_path / "manifest", {"manifests/input.manifest": '{"source": "${DATA}/runs/a.json"}\n'})
    spec = _spec(DeploymentSpec([data], [{}], BUCKET, "data/"),
                 DeploymentSpec([template], [{}], BUCKET, "", prune=False),
                 DeploymentSpec([manifest], [{"${DATA}": f"s3://{BUCKET}/data"}], BUCKET, "", prune=False))
    with local_s3.s3_endpoint(store=tmp_path / "s3") as endpoint:
        s3 = local_s3.client(endpoint)
        assert local_s3.deploy(spec, s3) == 4
        for number in range(30):  # a job's output beside them
            s3.put_object(Bucket=BUCKET, Key=f"output/job/annotations/worker-response/iteration-1/{number}/w.json",
                          Body=b"{}")
        sent = _requests(s3)
        plan = local_s3.plan_deployment(spec, s3)
        assert plan.writes == {} and plan.replaced == [] and plan.count == 4
        assert sent.count("ListObjectsV2") == 1 and sent.count("HeadObject") == 2  # data/ listed; the others looked up
        stored = s3.get_object(Bucket=BUCKET, Key="manifests/input.manifest")["Body"].read()
        assert stored == f'{{"source": "s3://{BUCKET}/data/runs/a.json"}}\n'.encode()  # its marker replaced

        (template / "template.liquid.html").write_text("<p>changed</p>")
        (data / "runs" / "b.json").unlink()
        plan = local_s3.plan_deployment(spec, s3)
        assert set(plan.writes) == {(BUCKET, "template.liquid.html"), (BUCKET, "data/runs/b.json")}
        assert plan.writes[(BUCKET, "data/runs/b.json")] is None  # pruned: its prefix is the deployment's
        assert plan.replaced == [f"s3://{BUCKET}/data/runs/b.json (removed)", f"s3://{BUCKET}/template.liquid.html (changed)"]
        plan.apply(s3)
        assert s3.get_object(Bucket=BUCKET, Key="template.liquid.html")["Body"].read() == b"<p>changed</p>"
        assert len(s3.list_objects_v2(Bucket=BUCKET, Prefix="output/")["Contents"]) == 30  # the output untouched


def test_a_file_two_deployments_hold_is_planned_as_the_later_one_leaves_it(tmp_path):
    """The second of two deployments holding one key sees the first's write as done: the later content is the
    object's, named changed once, and written however the bucket held it before."""
    first = _folder(tmp_path / "first", {"shared.txt": "first"})
    second = _folder(tmp_path / "second", {"shared.txt": "second"})
    spec = _spec(DeploymentSpec([first], [{}], BUCKET, "", prune=False),
                 DeploymentSpec([second], [{}], BUCKET, "", prune=False))
    with local_s3.s3_endpoint(store=tmp_path / "s3") as endpoint:
        s3 = local_s3.client(endpoint)
        plan = local_s3.plan_deployment(spec, s3)
        assert plan.replaced == [f"s3://{BUCKET}/shared.txt (changed)"]  # the first's write, replaced by the second
        plan.apply(s3)
        assert s3.get_object(Bucket=BUCKET, Key="shared.txt")["Body"].read() == b"second"
        again = local_s3.plan_deployment(spec, s3)
        assert set(again.writes) == {(BUCKET, "shared.txt")}  # the first's content would be written, then the second's
        assert again.writes[(BUCKET, "shared.txt")].body() == b"second"


def test_with_the_endpoints_folder_the_plan_is_the_same_and_nothing_is_asked_of_the_endpoint(tmp_path):
    """The runner's own endpoint keeps every acknowledged write in its folder: the plan reads the buckets there
    (a data folder of 3,400 files took 3.3 s to list through the endpoint), and decides exactly as through it, keys
    the store spells in pieces (long, dotted, non-ASCII) and an object changed since included."""
    long_name = "n" * 300 + ".json"
    data = _folder(tmp_path / "data", {"runs/a.json": "a", "runs/b.json": "b", "runs/..odd/é ü.json": "odd",
                                       "runs/keep.json": "same"})
    template = _folder(tmp_path / "template", {"template.liquid.html": "<p>{{ task.input.x | escape }}</p>",
                                               "gone.txt": "x"})
    spec = _spec(DeploymentSpec([data], [{}], BUCKET, "data/"), DeploymentSpec([template], [{}], BUCKET, "", prune=False))
    store = tmp_path / "s3"
    with local_s3.s3_endpoint(store=store) as endpoint:
        s3 = local_s3.client(endpoint)
        assert local_s3.deploy(spec, s3) == 6
        for key in ("data/runs/extra.json", f"data/runs/{long_name}"):  # left by an earlier deployment
            s3.put_object(Bucket=BUCKET, Key=key, Body=b"earlier")
        s3.put_object(Bucket=BUCKET, Key="data/runs/a.json", Body=b"changed in the bucket")
        (template / "template.liquid.html").write_text("<p>changed on disk</p>")
        (template / "gone.txt").unlink()  # a deployment without Prune leaves its object be
        through_endpoint = local_s3.plan_deployment(spec, s3)
        sent = _requests(s3)
        from_folder = local_s3.plan_deployment(spec, s3, store)
        assert sent == ["ListBuckets"]  # the buckets that exist, and nothing about the objects
    assert from_folder.replaced == through_endpoint.replaced == [
        f"s3://{BUCKET}/data/runs/a.json (changed)", f"s3://{BUCKET}/data/runs/extra.json (removed)",
        f"s3://{BUCKET}/data/runs/{long_name} (removed)", f"s3://{BUCKET}/template.liquid.html (changed)"]
    assert from_folder.writes.keys() == through_endpoint.writes.keys()
    assert from_folder.count == through_endpoint.count == 5


def test_an_asset_is_read_as_the_cdk_cli_zips_it_links_to_folders_followed_once(tmp_path):
    """The CLI zips an asset following links, to folders too: a data folder's link to a folder of its own ("cur" ->
    "imgs") uploads that folder's files under the link's name, and the runner (``Path.rglob``) passed over them: every
    line naming one failed "does not exist". A link back to a folder it is in is not walked again."""
    asset = _folder(tmp_path / "asset", {"imgs/a.png": "A", "imgs/deep/b.png": "B", ".hidden": "H", "run.json": "R"})
    (asset / "cur").symlink_to("imgs")
    (asset / "alias").symlink_to("run.json")
    (asset / "imgs" / "up").symlink_to("..")  # would be the asset again, inside itself, for ever
    found = {relative: path.read_text() for relative, path in local_s3.asset_files(asset)}
    assert found == {"imgs/a.png": "A", "imgs/deep/b.png": "B", ".hidden": "H", "run.json": "R", "alias": "R",
                     "cur/a.png": "A", "cur/deep/b.png": "B"}
