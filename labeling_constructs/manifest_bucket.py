"""ManifestBucket: the bucket a labeling job reads its data, manifest and template from."""
from __future__ import annotations

import fnmatch
import json
import math
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Mapping, Optional, Sequence

import jsii

from aws_cdk import (
    CopyOptions, Duration, FeatureFlags, FileSystem, IgnoreStrategy, RemovalPolicy, Stack, Stage, SymlinkFollowMode,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct, IConstruct, IValidation

from .bucket_layout import DATA_PREFIX, MANIFEST_KEY, overlapping
from .cdk_function_logs import auto_delete_objects_log_group, check_deployment_logs, deployment_log_group
from .data_prefix import DATA_PREFIX_PLACEHOLDER, name_problem
from .lambda_dependencies import import_lambda_src
from .lambda_function import merge_props, struct_values
from .nag import acknowledge, acknowledge_bucket_deployment, arn_token

import_lambda_src()
from gt_common.limits import MAX_MANIFEST_LINE_BYTES  # noqa: E402
from gt_common.task_record import source_field  # noqa: E402

#: The context key that turns asset staging off (aws-cdk-lib cx-api's DISABLE_ASSET_STAGING_CONTEXT, not exported to
#: Python): `cdk synth --no-staging` sets it.
DISABLE_ASSET_STAGING_CONTEXT = "aws:cdk:disable-asset-staging"

#: The problems of a data folder, or the bad lines of its manifest, said in full in one refusal; more are counted.
PROBLEMS_SHOWN = 20
_TEXT_SUFFIXES = {".json", ".jsonl", ".manifest", ".txt", ".csv"}
#: CDK's feature flag under which S3 server access logs are delivered under a bucket policy, not an ACL.
_LOGS_USE_BUCKET_POLICY = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"
#: What Ground Truth's worker portal needs of a bucket whose objects it shows through presigned URLs.
GROUND_TRUTH_CORS_RULE = s3.CorsRule(
    allowed_methods=[s3.HttpMethods.GET],
    allowed_origins=["*"],
    exposed_headers=["Access-Control-Allow-Origin"],
)


class ManifestBucket(Construct):
    """The bucket a Ground Truth job reads its data, manifest and template from, and writes its output to.

    Props (keyword, all optional):

    - ``existing_bucket`` (``s3.IBucket``): use this bucket instead of creating one; then nothing
      below about the created buckets applies, and the bucket must already carry Ground Truth's
      CORS rule (GET from any origin, exposing ``Access-Control-Allow-Origin``) for workers'
      browsers to load presigned objects (a bucket of this app without it is refused at synth; an imported
      bucket's rules are not known there). ``encryption_key`` defaults to the bucket's own key; another key than
      a known one of the bucket is refused.
      Nothing in it is ever deleted: sample data is added without pruning and stays when the stack goes.
    - ``bucket_props`` (``s3.BucketProps``): merged over the created bucket's defaults, field by field.
      Defaults: S3-managed encryption (KMS with ``encryption_key``, bucket key on), all public access
      blocked, SSL enforced, versioned, owner-enforced object ownership, server access logs to
      ``access_log_bucket`` under ``manifest-bucket/``, Ground Truth's CORS rule, noncurrent versions
      expired after ``noncurrent_version_expiration`` (90 days), ``removal_policy``. Given beside the prop that
      sets the same field, ``encryption_key`` and ``server_access_logs_bucket`` (``access_log_bucket``) must name
      the same key or bucket, and ``lifecycle_rules`` (which replace the noncurrent-version rule) are refused
      beside ``noncurrent_version_expiration``.
    - ``encryption_key`` (``kms.IKey``): the bucket's KMS key (default: none, S3-managed keys).
    - ``removal_policy`` (default ``RETAIN``): of the created buckets; ``DESTROY`` also empties them. One given
      in ``bucket_props`` is taken as this prop (both given and different: refused).
    - ``access_log_bucket`` (``s3.IBucket``): where the access logs go (default: a bucket created
      here from ``access_log_bucket_props`` over: S3-managed encryption, public access blocked, SSL
      enforced, logs expired after a year, ACLs disabled when the app delivers access logs under a bucket policy,
      CDK's ``@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy``).
    - ``sample_data_dir``: a folder deployed under ``data_prefix`` (default ``data/``), less the
      ``exclude`` globs (matched as CDK asset excludes), with its ``manifest_file`` (default
      ``manifest.jsonl``, JSON Lines, checked line by line) written to ``manifest_key`` (default
      ``manifests/input.manifest``). Text files may name their own location with the placeholder
      ``${DATA_PREFIX_URI}``, which becomes ``s3://<bucket>/<data_prefix>`` at deploy time, so data
      files can point at each other without knowing the bucket's generated name.
    - ``manifest_revision``: names the input's revision when this construct does not deploy it
      (default ``"external"``); with ``sample_data_dir`` it is computed (below).
    - ``log_retention`` (one year): of the log groups of the functions CDK runs for the bucket, its
      ``BucketDeployment`` handler and (``DESTROY``) the auto-delete-objects provider, whose removal policy is the
      bucket's (``RETAIN`` with ``existing_bucket``). CDK shares each function across the stack, so each group is the
      stack's, shared with the workflows' and reviews' template deployments: it keeps logs as long as any of them
      asks and is retained if any asks to (``cdk_function_logs``).

    Exposes: ``bucket`` (``s3.IBucket``), ``access_log_bucket`` (the created or given one; None with
    ``existing_bucket``), ``encryption_key`` (None with S3-managed keys),
    ``data_deployment`` and ``manifest_deployment`` (``BucketDeployment``, None without sample
    data), ``deployment_log_group`` (their handler's, None without sample data), ``auto_delete_log_group`` (the
    auto-delete-objects provider's, None unless a bucket made here is emptied on delete), ``data_prefix``,
    ``manifest_key``, ``manifest_s3_uri``, ``data_s3_uri``, ``s3_uri(key)``,
    and ``manifest_revision``: a digest of exactly what is deployed (the files not excluded, the
    manifest, the data prefix and manifest key), so a labeling job keyed on it changes when its
    input does and never when an excluded file (the sample data's truth) does.
    Grants: ``grant_read_prefix``, ``grant_write_prefix``, ``grant_list_prefixes``,
    ``grant_bucket_listing``, ``grant_read_data``. ``claim_prefixes``: the constructs that use the bucket
    (``CustomLabelingWorkflow``, ``ExpertReview``) claim their prefixes, so none lies inside another's.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        existing_bucket: Optional[s3.IBucket] = None,
        bucket_props: Optional[s3.BucketProps] = None,
        sample_data_dir: Optional[str | Path] = None,
        data_prefix: str = DATA_PREFIX,
        manifest_file: str = "manifest.jsonl",
        manifest_key: str = MANIFEST_KEY,
        exclude: Sequence[str] = (),
        manifest_revision: Optional[str] = None,
        encryption_key: Optional[kms.IKey] = None,
        removal_policy: Optional[RemovalPolicy] = None,
        access_log_bucket: Optional[s3.IBucket] = None,
        access_log_bucket_props: Optional[s3.BucketProps] = None,
        noncurrent_version_expiration: Optional[Duration] = None,
        log_retention: Optional[logs.RetentionDays] = None,
    ) -> None:
        super().__init__(scope, construct_id)
        # Of the log groups of CDK's functions: the retention, and the created bucket's removal policy (RETAIN beside
        # an existing bucket).
        self._log_retention = logs.RetentionDays.ONE_YEAR if log_retention is None else log_retention
        self._logs_removal_policy = RemovalPolicy.RETAIN
        self.deployment_log_group: Optional[logs.ILogGroup] = None
        self.auto_delete_log_group: Optional[logs.ILogGroup] = None
        if not data_prefix.endswith("/") or data_prefix.startswith("/"):
            raise ValueError(f"data_prefix {data_prefix!r} must be relative and end with '/'")
        if not manifest_key or manifest_key.endswith("/") or manifest_key.startswith("/"):
            raise ValueError(f"manifest_key {manifest_key!r} must be an object's key (relative, not ending in '/'): "
                             "Ground Truth reads the input manifest as one object")
        self.data_prefix = data_prefix
        self.manifest_key = manifest_key
        # What each part of the bucket is, for claim_prefixes: the data (and the manifest) first.
        self._claimed: dict[str, str] = {"the bucket's data_prefix": data_prefix, "the bucket's manifest_key": manifest_key}
        if sample_data_dir is not None and existing_bucket is None and manifest_key.startswith(data_prefix):
            raise ValueError(f"manifest_key {manifest_key!r} is under data_prefix {data_prefix!r}, where the sample data "
                             "is deployed with pruning: a deploy that changes only the data would delete the manifest")
        self.access_log_bucket: Optional[s3.IBucket] = None
        if existing_bucket is not None:
            given = [name for name, value in (("bucket_props", bucket_props), ("access_log_bucket", access_log_bucket),
                                              ("access_log_bucket_props", access_log_bucket_props),
                                              ("removal_policy", removal_policy),
                                              ("noncurrent_version_expiration", noncurrent_version_expiration))
                     if value is not None]
            if given:
                raise ValueError(f"{', '.join(given)} configure a bucket this construct creates; "
                                 "they cannot apply to existing_bucket")
            _refuse_another_key(self, existing_bucket, encryption_key)
            if isinstance(existing_bucket, s3.Bucket):  # of this app: its CORS rules are known at synth
                self.node.add_validation(_GroundTruthCors(existing_bucket))
            self.bucket: s3.IBucket = existing_bucket
            self.encryption_key: Optional[kms.IKey] = encryption_key or existing_bucket.encryption_key
        else:
            # bucket_props.removal_policy is the removal_policy prop given another way: it decides the logs bucket's
            # and whether both are emptied first (a DESTROY bucket that is not emptied fails to delete).
            given = struct_values(bucket_props).get("removal_policy")
            if given is not None and removal_policy is not None and given != removal_policy:
                raise ValueError(f"bucket_props.removal_policy ({given}) and removal_policy ({removal_policy}) differ: "
                                 "pass one (removal_policy also applies to the access-log bucket)")
            removal_policy = given if removal_policy is None else removal_policy
            _refuse_contradictions(bucket_props, encryption_key, access_log_bucket, noncurrent_version_expiration)
            self._logs_removal_policy = RemovalPolicy.RETAIN if removal_policy is None else removal_policy
            self.bucket = self._create_bucket(
                bucket_props, encryption_key, self._logs_removal_policy, access_log_bucket, access_log_bucket_props,
                Duration.days(90) if noncurrent_version_expiration is None else noncurrent_version_expiration)
            self.encryption_key = self.bucket.encryption_key
            if any(bucket.node.try_find_child("AutoDeleteObjectsCustomResource") is not None
                   for bucket in (self.bucket, self.access_log_bucket)):
                self.auto_delete_log_group = auto_delete_objects_log_group(self, self._log_retention,
                                                                           self._logs_removal_policy)

        #: Changes whenever the deployed data or manifest do; a labeling job keys on it.
        self.manifest_revision = manifest_revision or "external"
        self.data_deployment: Optional[s3deploy.BucketDeployment] = None
        self.manifest_deployment: Optional[s3deploy.BucketDeployment] = None
        if sample_data_dir is not None:
            if manifest_revision is not None:
                raise ValueError("manifest_revision is computed from sample_data_dir; pass one or the other")
            self._deploy_sample_data(Path(sample_data_dir), manifest_file, list(exclude),
                                     owned=existing_bucket is None)

    def _create_bucket(self, bucket_props, encryption_key, removal_policy, access_log_bucket, access_log_bucket_props,
                       noncurrent_version_expiration) -> s3.Bucket:
        destroy = removal_policy == RemovalPolicy.DESTROY
        overrides = struct_values(bucket_props)
        key = encryption_key or overrides.get("encryption_key")
        logs_bucket = access_log_bucket or overrides.get("server_access_logs_bucket")
        if logs_bucket is None:
            logs_bucket = s3.Bucket(self, "AccessLogs", **merge_props(dict(
                encryption=s3.BucketEncryption.S3_MANAGED,  # log delivery cannot write with a KMS key
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                enforce_ssl=True,
                object_ownership=_log_bucket_ownership(self),
                removal_policy=removal_policy,
                auto_delete_objects=destroy,
                lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
            ), access_log_bucket_props))
        elif access_log_bucket_props is not None:
            raise ValueError("access_log_bucket_props configure the logs bucket this construct creates; "
                             "not with access_log_bucket")
        self.access_log_bucket = logs_bucket
        return s3.Bucket(self, "Bucket", **merge_props(dict(
            encryption=s3.BucketEncryption.KMS if key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=key,
            bucket_key_enabled=bool(key),
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=logs_bucket,
            server_access_logs_prefix="manifest-bucket/",
            # Workers' browsers fetch presigned objects cross-origin (grant_read_access).
            cors=[GROUND_TRUTH_CORS_RULE],
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=noncurrent_version_expiration)],
            removal_policy=removal_policy,
            auto_delete_objects=destroy,
        ), {**overrides, "encryption_key": key} if key else overrides))

    # -- sample data -------------------------------------------------------------------------
    def _deploy_sample_data(self, folder: Path, manifest_file: str, exclude: list[str], owned: bool) -> None:
        """``owned``: the bucket is this construct's. A caller's existing bucket holds objects of its own, so
        there nothing is ever deleted: no pruning under ``data_prefix``, and the deployed files stay when the
        stack goes (a deployment's delete removes its whole destination from a bucket it does not own: the
        manifest's is the bucket root)."""
        if not folder.is_dir():
            raise ValueError(f"sample_data_dir {folder} is not a folder")
        manifest_path = folder / manifest_file
        if not manifest_path.is_file():
            raise ValueError(f"sample data folder {folder} has no manifest file {manifest_file!r}")
        uploads = _Uploads(folder, exclude, owned, manifest_path.relative_to(folder).as_posix())
        _refuse_what_cannot_be_uploaded(folder, ignored=lambda path: path == manifest_path or uploads.excluded(
            path.relative_to(folder).as_posix()), prefix=self.data_prefix)  # (the link's own name)
        # What is deployed, exactly: the files the data deployment uploads (the same exclude
        # matching as its asset), the manifest, and where they go.
        self.manifest_revision = FileSystem.fingerprint(
            str(folder), exclude=exclude, extra_hash=f"{self.data_prefix}\n{self.manifest_key}")[:16]
        data_prefix_uri = self.s3_uri(self.data_prefix.rstrip("/"))
        files = list(_files_and_links(folder))
        templated = {  # a link goes where its target goes (by the target's suffix): its relative target is staged
            path for path in files  # beside it (a link "alias" to "run.json" was left dangling in the other folder)
            if path.is_file() and path.resolve().suffix in _TEXT_SUFFIXES and path != manifest_path
            and not uploads.excluded(path.relative_to(folder).as_posix()) and _names_data_prefix(path)
        }
        # Two sources, each a folder of links to the data's files (nothing is copied twice): the files as they are, and
        # those naming the placeholder, which the deployment fills in. One source per filled-in file (Source.data) and
        # the folder less each of them by an exclude pattern took hours to synthesize for 20,000 runs, and their
        # template passed CloudFormation's 1 MB at about 2,300 (the manifest's Source.data had a marker per line).
        # With asset staging off (`cdk synth --no-staging`, as SAM's local tools run it), an asset is read from its
        # own folder when it is deployed: the folders of links are then made in the cloud assembly and kept.
        keep = bool(self.node.try_get_context(DISABLE_ASSET_STAGING_CONTEXT))
        staging = Path(tempfile.mkdtemp(prefix="manifest-bucket-", dir=Stage.of(self).asset_outdir if keep else None))
        try:
            as_is, filled_in = staging / "as-is", staging / "filled-in"
            for path in files:
                if path != manifest_path:
                    _link(path, (filled_in if path in templated else as_is) / path.relative_to(folder))
            as_is.mkdir(exist_ok=True)
            sources = [s3deploy.Source.asset(str(as_is), exclude=exclude, follow_symlinks=SymlinkFollowMode.EXTERNAL)]
            if templated:
                sources.append(_FilledIn(filled_in, data_prefix_uri))
            self.deployment_log_group = deployment_log_group(self, self._log_retention, self._logs_removal_policy)
            self.data_deployment = s3deploy.BucketDeployment(  # its sources are staged (copied) here
                self, "SampleData",
                destination_bucket=self.bucket,
                destination_key_prefix=self.data_prefix,
                sources=sources,
                prune=owned,
                retain_on_delete=not owned,
                log_group=self.deployment_log_group,
            )
            manifest = staging / "manifest" / self.manifest_key
            manifest.parent.mkdir(parents=True)
            manifest.write_text(_validated_manifest(manifest_path, uploads), encoding="utf-8")
            self.manifest_deployment = s3deploy.BucketDeployment(
                self, "InputManifest",
                destination_bucket=self.bucket,
                sources=[_FilledIn(staging / "manifest", data_prefix_uri)],  # one marker, however many lines
                prune=False,  # the manifest sits beside other prefixes (data, templates, output)
                retain_on_delete=not owned,
                log_group=self.deployment_log_group,
            )
        finally:
            if not keep:
                shutil.rmtree(staging)
        self.manifest_deployment.node.add_dependency(self.data_deployment)
        for deployment in (self.data_deployment, self.manifest_deployment):
            acknowledge_bucket_deployment(deployment, self.bucket)
            check_deployment_logs(deployment, self.deployment_log_group)

    def claim_prefixes(self, owner: str, prefixes: Mapping[str, str]) -> None:
        """Take ``prefixes`` (what each is -> its prefix) for ``owner`` (a workflow, a review): refused when one lies
        inside another of them, the data prefix, the manifest or a prefix claimed before (a deploy that prunes one
        would delete the other's objects, and each one's roles would reach the other's)."""
        taken = {f"{owner}'s {name}": prefix for name, prefix in prefixes.items()}
        claimed = {**self._claimed, **taken}
        problems = overlapping(claimed, new=taken)
        if problems:
            raise ValueError(f"{owner}: {'; '.join(problems)} overlap: give each part of the bucket a prefix of its own "
                             "(a deploy that prunes one would delete the other's objects, and their roles would reach "
                             "each other's)")
        self._claimed = claimed

    # -- addresses and grants ----------------------------------------------------------------
    def s3_uri(self, key: str = "") -> str:
        return f"s3://{self.bucket.bucket_name}/{key}"

    @property
    def manifest_s3_uri(self) -> str:
        return self.s3_uri(self.manifest_key)

    @property
    def data_s3_uri(self) -> str:
        return self.s3_uri(self.data_prefix)

    def grant_read_prefix(self, grantee: iam.IGrantable, prefix: str) -> iam.Grant:
        """s3:GetObject on ``prefix*`` (a key or a folder), and decryption when a KMS key is set.

        Narrower than ``Bucket.grant_read``, which adds ``s3:GetObject*``, ``s3:GetBucket*`` and
        ``s3:List*`` on the whole prefix.
        """
        grant = iam.Grant.add_to_principal(
            grantee=grantee, actions=["s3:GetObject"], resource_arns=[self.bucket.arn_for_objects(_pattern(prefix))])
        return _with(grant, self._grant_key(grantee, ["kms:Decrypt"]))

    def grant_write_prefix(self, grantee: iam.IGrantable, prefix: str, *,
                           abort_multipart_upload: bool = False) -> iam.Grant:
        """s3:PutObject on ``prefix*`` (no delete), and encryption when a KMS key is set.

        ``abort_multipart_upload`` adds s3:AbortMultipartUpload on the same keys, for a writer
        that uploads large objects in parts and cleans up the parts of an upload it gives up.
        """
        actions = ["s3:PutObject", *(["s3:AbortMultipartUpload"] if abort_multipart_upload else [])]
        grant = iam.Grant.add_to_principal(
            grantee=grantee, actions=actions, resource_arns=[self.bucket.arn_for_objects(_pattern(prefix))])
        return _with(grant, self._grant_key(grantee, ["kms:Decrypt", "kms:GenerateDataKey"]))

    def _grant_key(self, grantee: iam.IGrantable, actions: list[str]) -> Optional[iam.Grant]:
        # Explicit actions: Key.grant_encrypt_decrypt would add kms:ReEncrypt* and GenerateDataKey*.
        if self.encryption_key:
            return iam.Grant.add_to_principal(grantee=grantee, actions=actions,
                                              resource_arns=[self.encryption_key.key_arn])
        return None

    def grant_list_prefixes(self, grantee: iam.IGrantable, prefixes: Sequence[str]) -> iam.Grant:
        """s3:ListBucket limited to keys under ``prefixes``; without it a missing key reads as 403, not 404."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["s3:ListBucket"], resource_arns=[self.bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [_pattern(prefix) for prefix in prefixes]}})

    def grant_bucket_listing(self, grantee: iam.IGrantable) -> iam.Grant:
        """s3:ListBucket (key names under any prefix, never content) and s3:GetBucketLocation on the bucket."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["s3:ListBucket", "s3:GetBucketLocation"], resource_arns=[self.bucket.bucket_arn])

    def grant_read_data(self, grantee: iam.IGrantable, *, acknowledge_prefix_wildcard: bool = True) -> iam.Grant:
        """Read the sample data and the manifest only. The grant on ``<data prefix>*`` is cdk-nag's AwsSolutions-IAM5
        finding on the grantee's policy; it is acknowledged there unless ``acknowledge_prefix_wildcard`` is False."""
        grant = self.grant_read_prefix(grantee, self.manifest_key).combine(self.grant_read_prefix(grantee, self.data_prefix))
        if acknowledge_prefix_wildcard:
            self.acknowledge_grant_wildcard(
                grantee, self.data_prefix,
                f"Read access is limited to the data prefix {self.data_prefix}, whose objects are named per data object.")
        return grant

    def acknowledge_grant_wildcard(self, grantee: iam.IGrantable, prefix: str, reason: str) -> None:
        """``acknowledge_prefix_wildcard`` for a grant this construct (or one built on it) made to ``grantee``, when
        the grantee is a role, user or group of this app (an imported principal's policy is not synthesized here)."""
        principal = grantee.grant_principal
        if Construct.is_construct(principal):
            self.acknowledge_prefix_wildcard(principal, prefix, reason)

    def acknowledge_prefix_wildcard(self, scope: IConstruct, prefix: str, reason: str) -> None:
        """Accept cdk-nag's IAM5 finding for a grant on ``prefix*`` made under ``scope`` (in this bucket's stack or in
        another stack of its environment: there the finding names the bucket's ARN by its cross-stack export)."""
        acknowledge(scope, f"AwsSolutions-IAM5[Resource::{arn_token(self.bucket, scope)}/{_pattern(prefix)}]", reason)


def _refuse_another_key(scope: Construct, bucket: s3.IBucket, key: Optional[kms.IKey]) -> None:
    """``encryption_key`` beside an existing bucket with a key of its own must be that key: every grant names
    ``encryption_key``, so another one would leave the functions unable to read what the bucket's key encrypts."""
    own = bucket.encryption_key
    if key is None or own is None or key is own:
        return
    stack = Stack.of(scope)
    if stack.resolve(key.key_arn) != stack.resolve(own.key_arn):
        raise ValueError(f"encryption_key ({key.node.path}) is not existing_bucket's own key ({own.node.path}): "
                         "leave encryption_key out to use the bucket's key, or pass that key")


@jsii.implements(IValidation)
class _GroundTruthCors:
    """At synth, a bucket of this app given as ``existing_bucket`` must carry Ground Truth's CORS rule (its
    ``add_cors_rule`` calls count, wherever they are made): without it workers' browsers cannot load the presigned
    objects a task shows. An imported bucket's rules are not known here."""

    def __init__(self, bucket: s3.Bucket) -> None:
        self._bucket = bucket

    def validate(self) -> list[str]:
        # The CfnBucket's properties as the Bucket renders them (its rules, add_cors_rule's included), resolved;
        # CfnBucket.cors_configuration cannot be read back through jsii while the bucket has no rule. That member is
        # CDK's own: should a version not have it, the bucket is taken unchecked, as an imported one is, rather than
        # refused for this check's own trouble. (A rule set by a raw property override is not seen: the message says
        # to add it with add_cors_rule, which does no harm beside it.)
        try:
            properties = Stack.of(self._bucket).resolve(self._bucket.node.default_child._cfn_properties)
        except Exception:  # noqa: BLE001 - see above
            return []
        if not isinstance(properties, dict):
            return []
        for given in (properties.get("corsConfiguration") or {}).get("corsRules", []):
            if ("GET" in given.get("allowedMethods", []) and "*" in given.get("allowedOrigins", [])
                    and set(GROUND_TRUTH_CORS_RULE.exposed_headers) <= set(given.get("exposedHeaders", []))):
                return []
        return [f"existing_bucket {self._bucket.node.path} has no CORS rule allowing GET from any origin and exposing "
                "Access-Control-Allow-Origin, which Ground Truth's worker portal needs to show its objects: add "
                "labeling_constructs.manifest_bucket.GROUND_TRUTH_CORS_RULE to it (bucket.add_cors_rule or the "
                "bucket's cors prop)"]


def _refuse_contradictions(bucket_props: Optional[s3.BucketProps], encryption_key: Optional[kms.IKey],
                           access_log_bucket: Optional[s3.IBucket],
                           noncurrent_version_expiration: Optional[Duration]) -> None:
    """A prop and the ``bucket_props`` field it is made into, both given: refused unless they agree. Otherwise one
    was silently unused (bucket_props' key, the prop's expiration), or the bucket logged to bucket_props' bucket
    while ``access_log_bucket`` exposed the prop's."""
    overrides = struct_values(bucket_props)
    for prop, value, field in (("encryption_key", encryption_key, "encryption_key"),
                               ("access_log_bucket", access_log_bucket, "server_access_logs_bucket")):
        if value is not None and overrides.get(field) is not None and overrides[field] is not value:
            raise ValueError(f"bucket_props.{field} and {prop} name different {'keys' if 'key' in prop else 'buckets'}: "
                             "pass one")
    if noncurrent_version_expiration is not None and overrides.get("lifecycle_rules") is not None:
        raise ValueError("bucket_props.lifecycle_rules replace the rule noncurrent_version_expiration makes: give the "
                         "expiration in your rules (s3.LifecycleRule(noncurrent_version_expiration=...)) instead")


def _log_bucket_ownership(scope: Construct) -> s3.ObjectOwnership:
    """ACLs off (bucket owner enforced) where S3 delivers the access logs under a bucket policy
    (``@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy``, as this app sets it): then no ACL is needed, and S3 and
    Security Hub (S3.12) advise against them. Without the flag CDK grants delivery by the LogDeliveryWrite ACL, which
    needs ACLs on."""
    if FeatureFlags.of(scope).is_enabled(_LOGS_USE_BUCKET_POLICY):
        return s3.ObjectOwnership.BUCKET_OWNER_ENFORCED
    return s3.ObjectOwnership.BUCKET_OWNER_PREFERRED


def _with(grant: iam.Grant, other: Optional[iam.Grant]) -> iam.Grant:
    """One ``iam.Grant`` of both (the object access and the key's), as CDK's own ``grant_*`` return."""
    return grant if other is None else grant.combine(other)


def _pattern(prefix: str) -> str:
    """A folder prefix matches what is under it; a plain key matches only itself."""
    return f"{prefix}*" if prefix.endswith("/") else prefix


def _refuse_what_cannot_be_uploaded(folder: Path, ignored, prefix: str = "") -> None:
    """Refuse, naming it, a file or folder in ``folder`` that cannot go up as it is:

    - a name that is not UTF-8 (an S3 key is; CDK's copy failed on it with "ENOENT: no such file or directory"),
      or that ``name_problem`` refuses (a control character, a ``${`` marker, a key under ``prefix`` past S3's
      1,024 bytes), unless it is not uploaded;
    - what is neither a file nor a folder (a pipe, a socket, a device): the asset's copy failed naming a temporary
      folder;
    - a link leading outside the folder: the asset copies what such a link points to, so a link to a home folder's
      key or another project's data would be uploaded with the data (and shown to workers by any line naming it).
      Links inside the folder are kept; a link that loops is refused.

    ``ignored(path)``: a file that is not uploaded (the manifest, an excluded file), whose links are its owner's
    business."""
    inside = folder.resolve()
    problems: list[str] = []  # every one said at once, not one per synth
    for parent, folders, files in os.walk(folder):  # links to folders are not followed: each is checked as a link
        for name in folders + files:
            path = Path(parent) / name
            problem = _upload_problem(folder, inside, path, name, ignored, prefix)
            if problem is not None:
                problems.append(problem)
        folders[:] = [name for name in folders if not ignored(Path(parent) / name)]  # (nothing in them goes up)
    _refuse(f"data folder {folder}", "files that cannot be uploaded", problems)


def _upload_problem(folder: Path, inside: Path, path: Path, name: str, ignored, prefix: str) -> Optional[str]:
    """Why ``path`` (named ``name``) cannot go up, as ``_refuse_what_cannot_be_uploaded`` says it; None when it can."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # its bytes, as the file system holds them
        shown = os.fsencode(path.relative_to(folder)).decode("utf-8", errors="backslashreplace")
        return f"the name {shown} is not UTF-8 text, which an S3 key must be: rename it"
    if ignored(path):
        return None
    relative = path.relative_to(folder).as_posix()
    problem = name_problem(relative, prefix)
    if problem is not None:
        return f"{relative!r}: {problem}"
    if not (path.is_file() or path.is_dir() or path.is_symlink() and not path.exists()):  # (links followed)
        return (f"{relative!r} is neither a file nor a folder (a pipe, a socket or a device), which cannot be "
                "uploaded: remove it")
    if not path.is_symlink():
        return None
    try:
        target = path.resolve()
    except RuntimeError:  # a loop (Python before 3.13; later ones resolve it as far as it goes)
        return f"{path.relative_to(folder)} is a link that leads back to itself: remove it"
    if target != inside and inside not in target.parents:
        return (f"{path.relative_to(folder)} is a link to {target}, outside the folder; only what is inside it is "
                "uploaded: copy the file in instead")
    return None


def _refuse(what: str, kind: str, problems: Sequence[str], joined: str = ": ") -> None:
    """One ``ValueError`` saying every problem of ``what`` (the first ``PROBLEMS_SHOWN`` in full, the rest counted),
    or nothing when there are none: a folder or manifest of many took a synth to find each. One problem follows
    ``what`` after ``joined``; several, each on a line of its own."""
    if len(problems) == 1:
        raise ValueError(f"{what}{joined}{problems[0]}")
    if problems:
        shown = problems[:PROBLEMS_SHOWN]
        more = f"\n(and {len(problems) - len(shown):,} more)" if len(problems) > len(shown) else ""
        raise ValueError(f"{what} has {len(problems):,} {kind}:\n" + "\n".join(shown) + more)


def _names_data_prefix(path: Path) -> bool:
    """Whether a text file holds ``${DATA_PREFIX_URI}``; one that does must be UTF-8, as the marker it is filled in
    by is read (``ValueError`` naming it otherwise)."""
    body = path.read_bytes()
    if DATA_PREFIX_PLACEHOLDER.encode() not in body:
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} names {DATA_PREFIX_PLACEHOLDER} but is not UTF-8 text: {error}") from None
    return True


def _files_and_links(folder: Path) -> Iterator[Path]:
    """Every file under ``folder``, and every link to a folder (kept as one: its files are not looked into)."""
    for parent, folders, files in os.walk(folder):
        yield from (Path(parent) / name for name in files)
        yield from (Path(parent) / name for name in folders if (Path(parent) / name).is_symlink())


def _link(target: Path, link: Path) -> None:
    """``link`` to the data's file ``target``; a link of the data's (one within it) is copied as it is, so it stays a
    link in the asset as before (SymlinkFollowMode.EXTERNAL follows only the links out of the staging folder)."""
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.readlink(target) if target.is_symlink() else target.absolute())


@jsii.implements(s3deploy.ISource)
class _FilledIn:
    """A folder of files naming ``${DATA_PREFIX_URI}`` as one source, the placeholder its marker: the deployment
    replaces it with the data prefix's S3 URI in each file, as ``Source.data`` does in its one file."""

    def __init__(self, folder: Path, data_prefix_uri: str) -> None:
        self._folder, self._data_prefix_uri = folder, data_prefix_uri

    def bind(self, scope: Construct, *, handler_role: iam.IRole) -> s3deploy.SourceConfig:
        asset = s3deploy.Source.asset(str(self._folder), follow_symlinks=SymlinkFollowMode.EXTERNAL)
        config = asset.bind(scope, handler_role=handler_role)
        return s3deploy.SourceConfig(bucket=config.bucket, zip_object_key=config.zip_object_key,
                                     markers={DATA_PREFIX_PLACEHOLDER: self._data_prefix_uri})


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: written back out as Infinity, which is not JSON
        raise ValueError(f"{text} is too large for a JSON number (it reads as Infinity)")
    return value


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # a JSON escape of a surrogate: a pair, or a lone one


def _encodable(record: dict) -> bool:
    """Whether every string of ``record`` (keys too) is text UTF-8 can write: a pair of surrogate escapes is one
    character, a lone one none."""
    try:
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Uploads:
    """Which of a data folder's files its deployment uploads, and why a manifest's ``${DATA_PREFIX_URI}/<path>`` names
    none of them: found at synth, the line named, rather than by a task whose pre-labeling says only that an S3 object
    does not exist. ``owned``: the bucket is the construct's (one of the caller's may hold other objects)."""

    # An exclude pattern of only these characters matches no path that ``fnmatch`` (whose "*" crosses "/" and
    # matches a leading dot) does not also match: those paths alone are asked of the CDK's own matcher, a call into
    # it costing some 0.4 ms (20,000 manifest lines would add 8 s to a synth).
    _PLAIN_PATTERN = re.compile(r"[A-Za-z0-9._*?-]+(/[A-Za-z0-9._*?-]+)*")

    def __init__(self, folder: Path, exclude: Sequence[str], owned: bool, manifest: str) -> None:
        self._folder, self._exclude, self._owned, self._manifest = folder, list(exclude), owned, manifest
        self._root = str(folder.resolve())
        self._plain = all(self._PLAIN_PATTERN.fullmatch(pattern) for pattern in self._exclude)
        self._matcher = IgnoreStrategy.from_copy_options(CopyOptions(exclude=self._exclude), self._root)
        self._excluded: dict[str, bool] = {}

    def excluded(self, relative: str) -> bool:
        """Whether the asset leaves out the folder's file (or link) at ``relative``, a "/"-separated path (each path
        answered once: the folder's walk, its pruning and the filled-in files ask of the same ones)."""
        if relative not in self._excluded:
            self._excluded[relative] = bool(self._exclude) and self._ignores(relative, self._exclude)
        return self._excluded[relative]

    def _ignores(self, relative: str, patterns: Sequence[str]) -> bool:
        """Whether the data's asset leaves ``relative`` out: it or a folder above it excluded (the copy skips an
        excluded folder whole; the matcher, asked of a file, looks at its path alone)."""
        parts = relative.split("/")
        ancestors = ["/".join(parts[:end]) for end in range(1, len(parts) + 1)]
        if self._plain and not any(fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path.rsplit("/", 1)[-1],
                                   pattern) for path in ancestors for pattern in patterns):
            return False
        matcher = self._matcher if patterns is self._exclude else IgnoreStrategy.from_copy_options(
            CopyOptions(exclude=list(patterns)), self._root)
        return any(matcher.ignores(f"{self._root}/{path}") for path in ancestors)

    def problem(self, value: str) -> Optional[str]:
        relative = value[len(DATA_PREFIX_PLACEHOLDER) + 1:]
        if any(part in ("", ".", "..") for part in relative.split("/")):  # S3 takes "a//b" and "a/../b" as they are
            return "an empty, '.' or '..' part of a path is no file's key (S3 keys are taken as they are written)"
        try:
            present = (self._folder / relative).is_file()
        except OSError as error:  # a name past the file system's limits (a part over 255 bytes): no file of the folder
            return f"no file of the data folder can have that path ({error.strerror})" if self._owned else None
        if not present:
            # A bucket of the caller's may hold objects the data folder does not (nothing there is pruned).
            shown = relative if len(relative) <= 300 else f"{relative[:300]}..."  # (a line may be 100 KB)
            return None if not self._owned else f"the data folder {self._folder} has no file {shown!r}"
        if self.excluded(relative):
            patterns = [pattern for pattern in self._exclude if self._ignores(relative, [pattern])]
            return (f"the exclude pattern {', '.join(map(repr, patterns))} leaves {relative!r} out of the upload "
                    "(it is in the data folder): name another file, or rename it or its folder")
        if relative == self._manifest:
            return "that is the manifest itself, which is uploaded to its own key, not under the data prefix"
        return None

    def problems(self, record: object) -> Iterator[tuple[str, str]]:
        """(value, problem) for each string in ``record`` (at any depth) that names a file under the data prefix.
        Walked with a list, not by recursion: JSON nested as deep as the parser takes would pass Python's limit."""
        pending = [record]
        while pending:
            value = pending.pop()
            if isinstance(value, str):
                if value.startswith(DATA_PREFIX_PLACEHOLDER + "/") and (problem := self.problem(value)):
                    yield value, problem
            elif isinstance(value, dict):
                pending.extend(reversed(list(value.values())))  # (in the line's order)
            elif isinstance(value, list):
                pending.extend(reversed(value))


def _validated_manifest(path: Path, uploads: Optional[_Uploads] = None) -> str:
    """The manifest's text, after checking each line is one JSON object (Ground Truth's format), named by its line
    number in the file. Lines end at "\n" only (a string may hold U+2028); NaN and Infinity are not JSON. Two lines
    naming one source with different fields are refused: Ground Truth gives the consolidation function only a line's
    source, so they would share one task record (its gold, its text) and one would lose its own. A leading byte-order
    mark (Windows tools write one) is dropped, as RFC 8259 lets a JSON parser do; the manifest is uploaded without it."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"manifest {path} is not UTF-8 text: {error}") from None
    lines: list[str] = []
    sources: dict[str, tuple[int, dict]] = {}
    problems: list[str] = []  # every bad line said at once, not one per synth

    def check(number: int, line: str) -> None:
        try:
            record = json.loads(line, parse_constant=_refuse_constant, parse_float=_finite)
        except RecursionError:
            raise ValueError(f"line {number} is nested too deeply to be JSON") from None
        except ValueError as error:
            raise ValueError(f"line {number} is not JSON: {error}") from None
        if not isinstance(record, dict):
            raise ValueError(f"line {number} is not a JSON object")
        if _SURROGATE_ESCAPE.search(line) and not _encodable(record):
            raise ValueError(f"line {number} holds a lone surrogate escape (such as \"\\ud83d\", half "
                             "of an emoji cut in two), which is no character: no file, page or table can hold it; "
                             "write the whole character, or leave it out")
        if len(line.encode("utf-8")) > MAX_MANIFEST_LINE_BYTES:
            raise ValueError(f"line {number} is over Ground Truth's {MAX_MANIFEST_LINE_BYTES:,}-byte "
                             "line limit")
        field = source_field(record, f"line {number}")  # Ground Truth's rule: one of them, once
        for value, problem in uploads.problems(record) if uploads else ():
            raise ValueError(f"line {number} names {value[:300]!r}, but {problem}")
        source = json.dumps([field, record[field]], sort_keys=True)
        first = sources.setdefault(source, (number, record))
        if first[1] != record:
            raise ValueError(f"lines {first[0]} and {number} name the same {field} "
                             f"{str(record[field])[:200]!r} with different fields: the consolidation function "
                             "gets only a line's source, so they would share one task record; give each line a "
                             "source of its own (or make the lines the same)")

    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        try:
            check(number, line)
        except ValueError as error:
            problems.append(str(error))
            continue
        lines.append(line)
    _refuse(f"manifest {path}", "lines that cannot be used", problems, joined=" ")
    if not lines:
        raise ValueError(f"manifest {path} is empty")
    return "\n".join(lines) + "\n"
