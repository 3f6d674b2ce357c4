"""The stateful resources of the synthesized stacks keep their logical ids and types across versions.

CloudFormation knows a resource by its logical id. When an upgrade changes one (a construct renamed or moved,
a construct id that now depends on a setting), ``cdk deploy`` creates a new resource under the new id and deletes
the old one, or leaves it behind where a removal policy retains it: a bucket with the data and the labels, the
user pool with every worker's account, the key, a workteam, the log groups, a running labeling job. A type that
changes under the same id fails the deploy. The stack snapshots would show such a change, among everything else
they show, and they get re-recorded.

So the ids are listed, readably, in ``tests/stateful_resources.txt``, which this test derives from the templates
of cdk.json's ``dev`` and ``prod`` environments and compares. Every workflow stack is made by one generic stack,
so the list names what every workflow stack holds once (stack ``workflow``), and a new workflow is checked by
existing. A deliberate change is recorded with ``STATEFUL_RESOURCES_UPDATE=1`` (see the failure message).
"""
from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import workflows
from tests.conftest import STACK_TEST_ENVIRONMENTS

LIST = Path(__file__).resolve().parent / "stateful_resources.txt"
UPDATE_VARIABLE = "STATEFUL_RESOURCES_UPDATE"
UPDATE_COMMAND = (f"{UPDATE_VARIABLE}=1 JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 "
                  ".venv/bin/python -m pytest -q -p no:cacheprovider tests/test_stateful_resources.py")
WORKFORCE, WORKFLOW = "LabelingWorkforce", "workflow"

#: What each type holds that a replacement loses (or, for the job, what it does).
STATEFUL_TYPES = {
    "AWS::S3::Bucket": "its objects: data, manifests, templates, the workers' answers and labels, access logs",
    "AWS::KMS::Key": "the key: whatever was encrypted with it",
    "AWS::Cognito::UserPool": "every worker's account",
    "AWS::Cognito::UserPoolClient": "the client id the private workforce signs workers in with",
    "AWS::Cognito::UserPoolDomain": "the sign-in domain of the workforce",
    "AWS::Cognito::UserPoolGroup": "the team's members",
    "AWS::SageMaker::Workteam": "the workteam every job names by its ARN",
    "AWS::SNS::Topic": "the workers' confirmed task-notification subscriptions",
    "AWS::Logs::LogGroup": "its logs",
    "AWS::SQS::Queue": "the events waiting in it",
    "Custom::GroundTruthLabelingJob": "the running labeling job: a new one is started and the old one stopped",
}

HEADER = f"""\
# The stateful resources of the app's stacks, as cdk.json's {' and '.join(STACK_TEST_ENVIRONMENTS)} environments
# synthesize them: environment, stack, logical id, type. Derived from the templates by
# tests/test_stateful_resources.py, which fails when they differ from this list.
# CloudFormation knows a resource by its logical id: a changed id replaces the resource on every deployed stack
# (a new one is created, the old one deleted), which loses what it holds. Stack "workflow" is every workflow stack
# (one generic stack, so each holds these); the staging environment holds what prod holds.
# A deliberate change is recorded with:
#   {UPDATE_COMMAND}
"""


def _stack_kind(stack_name: str, env_name: str, workflow_stacks: set[str]) -> str:
    if stack_name == f"{WORKFORCE}-{env_name}":
        return WORKFORCE
    assert stack_name in workflow_stacks, f"stack {stack_name} is neither the workforce's nor a workflow's"
    return WORKFLOW


def synthesized(assemblies) -> tuple[set[tuple[str, str, str, str]], list[str]]:
    """The (environment, stack, logical id, type) of every stateful resource the templates hold, and the workflow
    stacks whose stateful resources differ from the first workflow stack's (they must all hold the same)."""
    definitions = workflows.definitions().values()
    rows, differing = set(), []
    for env_name in STACK_TEST_ENVIRONMENTS:
        workflow_stacks = {f"{d.stack_name}-{env_name}" for d in definitions}
        per_workflow: dict[str, set[tuple[str, str]]] = {}
        for stack in assemblies[env_name].stacks:
            kind = _stack_kind(stack.stack_name, env_name, workflow_stacks)
            found = {(logical_id, resource["Type"]) for logical_id, resource in stack.template["Resources"].items()
                     if resource["Type"] in STATEFUL_TYPES}
            if kind == WORKFLOW:
                per_workflow[stack.stack_name] = found
            rows |= {(env_name, kind, logical_id, kind_type) for logical_id, kind_type in found}
        if per_workflow:
            first = min(per_workflow)
            differing += [f"{name} (against {first}): {sorted(found ^ per_workflow[first])}"
                          for name, found in sorted(per_workflow.items()) if found != per_workflow[first]]
    return rows, differing


def render(rows: set[tuple[str, str, str, str]]) -> str:
    order = {name: i for i, name in enumerate(STACK_TEST_ENVIRONMENTS)}
    ordered = sorted(rows, key=lambda row: (order[row[0]], row[1] != WORKFORCE, row[3], row[2]))
    widths = [max([len(row[i]) for row in ordered] + [1]) for i in range(3)]
    return HEADER + "".join(f"{env:<{widths[0]}}  {stack:<{widths[1]}}  {logical_id:<{widths[2]}}  {kind}\n"
                            for env, stack, logical_id, kind in ordered)


def recorded() -> set[tuple[str, str, str, str]]:
    rows = set()
    for number, line in enumerate(LIST.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip() and not line.startswith("#"):
            fields = line.split()
            assert len(fields) == 4, f"{LIST.name} line {number}: environment, stack, logical id, type: {line!r}"
            rows.add(tuple(fields))
    return rows


def explain(listed: set, found: set) -> str:
    """What a deploy of today's templates would do to stacks deployed with the listed ones, and what to do."""
    listed_ids = {row[:3]: row[3] for row in listed}
    found_ids = {row[:3]: row[3] for row in found}
    lines = []
    gone = sorted(key for key in listed_ids if key not in found_ids)
    retyped = sorted(key for key in listed_ids if key in found_ids and listed_ids[key] != found_ids[key])
    new = sorted(key for key in found_ids if key not in listed_ids)
    stacks = {WORKFORCE: "the LabelingWorkforce-<env> stack", WORKFLOW: "every workflow stack"}
    if gone:
        lines.append("No longer in the templates: `cdk deploy` to a stack deployed before would DELETE each of these "
                     "(or, where the environment retains it, leave it behind outside the stack), and where only its "
                     "id changed, create a new, empty one in its place:")
        lines += [f"  {env}  {stacks[stack]}: {logical_id} ({listed_ids[env, stack, logical_id]}, "
                  f"{STATEFUL_TYPES.get(listed_ids[env, stack, logical_id], 'stateful')} would be lost)"
                  for env, stack, logical_id in gone]
    if retyped:
        lines.append("Same logical id, another type (CloudFormation refuses to update a resource's type):")
        lines += [f"  {env}  {stacks[stack]}: {logical_id}: {listed_ids[env, stack, logical_id]} -> "
                  f"{found_ids[env, stack, logical_id]}" for env, stack, logical_id in retyped]
    if new:
        maybe_renamed = " (one of them may be a resource above under a new id)" if gone else ""
        lines.append(f"New stateful resources, not in the list{maybe_renamed}:")
        lines += [f"  {env}  {stacks[stack]}: {logical_id} ({found_ids[env, stack, logical_id]})"
                  for env, stack, logical_id in new]
    if gone or retyped:
        lines.append("If a construct was renamed or moved by accident, give it its old id and place back, or pin the "
                     "old logical id (CfnResource.override_logical_id). If the change is deliberate, tell upgrading "
                     "users what they lose (README) and record it:")
    else:
        lines.append("Nothing deployed is replaced. Record the new resources so that a later change to them is caught:")
    lines.append(f"  {UPDATE_COMMAND}")
    return "\n".join(lines)


def test_stateful_resources_keep_their_logical_ids_and_types(assemblies):
    found, differing = synthesized(assemblies)
    assert not differing, ("every workflow stack is the generic stack and should hold the same stateful resources; "
                           f"these differ: {differing}. The list holds one set for them all: a workflow whose stack "
                           "holds other stateful resources needs rows of its own (extend this test).")
    if os.environ.get(UPDATE_VARIABLE):
        LIST.write_text(render(found), encoding="utf-8")
    listed = recorded()
    assert listed == found, f"The stateful resources differ from {LIST.relative_to(LIST.parents[1])}.\n" + explain(
        listed, found)


def test_the_list_is_written_as_rendered(assemblies):
    """The list is exactly what the update writes (sorted, aligned, with its header), so an update's diff shows
    only what changed."""
    found, _ = synthesized(assemblies)
    if recorded() == found:
        assert LIST.read_text(encoding="utf-8") == render(found), f"run: {UPDATE_COMMAND}"
