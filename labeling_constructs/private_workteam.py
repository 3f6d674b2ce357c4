"""PrivateWorkteam: a Cognito-backed private Ground Truth workteam, or a reused one."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Optional, Sequence

import jsii
from aws_cdk import CfnResource, CustomResource, Duration, Fn, IAnyProducer, IResolvable, IResolveContext, Lazy
from aws_cdk import RemovalPolicy, Stack, Token
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import custom_resources as cr
from constructs import Construct

from .custom_labeling_workflow import check_workteam_environment
from .labeling_job_resource import job_settings
from .lambda_code import RUNTIME
from .lambda_function import least_privilege_function, own_folder_code, struct_values
from .nag import acknowledge, acknowledge_provider_framework
from .workteam_portal_resource.worker_emails import worker_emails as worker_emails_rule

_PLACEHOLDER_CALLBACK = "https://localhost/oauth2/idpresponse"
_PLACEHOLDER_LOGOUT = "https://localhost/logout"
_DEFAULT_PASSWORD_POLICY = cognito.PasswordPolicy(
    min_length=12,
    require_digits=True,
    require_lowercase=True,
    require_uppercase=True,
    require_symbols=True,
    temp_password_validity=Duration.days(7),
)


# UserPoolProps fields the workforce depends on: what a caller sets there would break it, so it is refused.
_POOL_FIELDS_OWNED = {
    "sign_in_aliases": "workers are invited with their email address as user name, which a pool whose user names "
                       "are not email addresses refuses",
    "user_invitation": "the portal resource writes the invitation (it names the portal's URL, known only once the "
                       "workteam exists); set its subject with invitation_subject",
}
# UserPoolProps fields that are this construct's own props too: taken as the prop, refused when both differ.
_POOL_FIELDS_AS_PROPS = ("mfa", "password_policy", "removal_policy")


_INTRINSIC_REFERENCES = ("Ref", "Fn::GetAtt", "Fn::ImportValue")
_PORTAL_RESOURCE_CODE = Path(__file__).resolve().parent / "workteam_portal_resource"


def template_fingerprint(resource: CfnResource) -> IResolvable:
    """A property value that changes whenever CloudFormation would update ``resource``.

    Resolved at synthesis, after every construct has set its properties: a digest of all of the
    resource's CloudFormation properties as CDK renders them (a property CDK or CloudFormation adds
    later is covered without listing it), plus the references among them (``Ref``, ``Fn::GetAtt``,
    ``Fn::ImportValue``) kept as such, so that a change of a referenced value at deploy time shows
    too. Escape-hatch overrides (``add_property_override``) are outside what CDK lets a construct
    read; a caller who overrides a property should change another one with it.
    """
    return Lazy.uncached_any(_TemplateFingerprint(resource))


@jsii.implements(IAnyProducer)
class _TemplateFingerprint:
    def __init__(self, resource: CfnResource) -> None:
        self._resource = resource

    def produce(self, _context: Optional[IResolveContext] = None) -> Any:
        # CfnResource shows its properties only to subclasses (cfnProperties, renderProperties); as
        # in its own synthesis, they are resolved first and rendered to CloudFormation's names after.
        stack, resource = Stack.of(self._resource), self._resource
        rendered = stack.resolve(resource._render_properties(stack.resolve(resource._cfn_properties)))
        digest = hashlib.sha256(json.dumps(rendered, sort_keys=True, default=str).encode()).hexdigest()[:16]
        return {"Digest": digest, "References": _references(rendered)}


def _references(value: Any) -> list[Any]:
    found: dict[str, Any] = {}

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            if len(item) == 1 and next(iter(item)) in _INTRINSIC_REFERENCES:
                if not str(item.get("Ref", "")).startswith("AWS::"):  # pseudo parameters never change
                    found[json.dumps(item, sort_keys=True)] = item
                return
            for child in item.values():
                walk(child)
        elif isinstance(item, list):
            for child in item:
                walk(child)

    walk(value)
    return [found[key] for key in sorted(found)]


class PrivateWorkteam(Construct):
    """A private workteam whose workers sign in through a Cognito user pool made for it, a new team of an
    existing private workforce (its user pool and app client given), or a reused workteam.

    Without ``existing_user_pool``, creates the user pool (no self sign-up, strong passwords, MFA optional by
    default), its domain, an app client, a worker group, an encrypted SNS topic for task notifications, the
    ``AWS::SageMaker::Workteam``, and a custom resource that, once the workteam exists, points the
    app client's callback URLs at the labeling portal and invites ``worker_emails`` with an email
    naming the portal URL. (The portal's sub-domain only exists after the workteam does, while the
    workteam needs the app client first: hence the post-creation step.) The step runs again
    whenever CloudFormation updates the user pool or the app client (their templates are part of
    its properties, see ``template_fingerprint``): an update of either resets what it set.

    Props (keyword, all optional):

    - ``existing_workteam_arn``: reuse this workteam; nothing is created and ``portal_url`` is None (the props
      below configure what is created: given with it, they are refused). Checked at synth as a job's
      ``workteam_arn`` is: CreateLabelingJob's pattern, and the stack's region (a private team, its account).
      An account has one private workforce (one Cognito user pool) per region, so a second
      Cognito-backed workteam from another pool fails: reuse it, or make a team of it (next).
    - ``existing_user_pool`` and ``existing_user_pool_client`` (both or neither; not with ``existing_workteam_arn``):
      the user pool and app client of the account's private workforce in the region (made in the console or by
      another app; a pool of another region than the stack's is refused at synth). The team is then made in that
      workforce: this construct creates only a user group for it in
      that pool, the workteam, its notification topic (and key), and the portal resource, which reads the portal
      URL and invites ``worker_emails`` into the group with the pool's own invitation message. It changes neither
      the pool's settings nor the app client's callback URLs (they belong to the workforce, whose portal they
      already serve), so ``mfa``, ``password_policy`` and ``invitation_subject``, which configure a pool this
      construct creates, are refused with them; ``removal_policy`` then applies to the notification key and the log
      groups only.
    - ``worker_emails`` (none): invited as Cognito users into the worker group, and subscribed to
      task notifications unless ``subscribe_workers_to_notifications`` is False. Checked at synth by the
      portal resource's rule (``workteam_portal_resource.worker_emails``): addresses, each once.
    - ``description`` ("Private workteam for Ground Truth custom labeling"), ``invitation_subject``
      ("You are invited to a labeling workteam").
    - ``mfa`` (``Mfa.OPTIONAL``: the labeling portal's sign-in, Cognito's managed login, then asks no worker
      to enrol; ``Mfa.REQUIRED`` makes every worker enrol a TOTP app at first sign-in), ``password_policy``
      (12+ characters with every character class, temporary passwords valid 7 days).
    - ``removal_policy`` (``RETAIN``: also turns on the user pool's deletion protection; it is the notification
      key's and the portal's log groups' too), ``log_retention`` (one year) of the portal function's logs.
    - ``user_pool_props`` (``cognito.UserPoolProps``): merged over the created pool's defaults above, field by field
      (e.g. ``feature_plan`` for threat protection, ``email`` to send through SES, ``lambda_triggers``,
      ``user_pool_name``). Its ``mfa``, ``password_policy`` and ``removal_policy`` are taken as those props (both
      given and different: refused); ``sign_in_aliases`` (workers' user names are their email addresses) and
      ``user_invitation`` (the portal resource writes it) are refused, as it is with an existing pool or workteam.

    The portal function's code is ``workteam_portal_resource/`` beside this module (boto3 only, an
    asset of that folder alone).

    Exposes: ``workteam_arn``, ``workteam`` (CfnWorkteam), ``user_pool``, ``user_pool_domain``,
    ``user_pool_client``, ``worker_group``, ``notification_topic``, ``notification_key``,
    ``portal`` (the CustomResource), ``portal_url``, ``portal_function``, ``portal_provider`` (its
    ``cr.Provider``), ``portal_provider_log_group`` (the provider framework's function's) (each None when reusing a
    workteam; with an existing workforce ``user_pool`` and ``user_pool_client`` are the given ones and
    ``user_pool_domain`` is None). Grants: ``grant_describe``. ``add_workteam`` makes another team of the same
    workforce (e.g. the experts who review what the crowd could not settle); ``added_groups`` holds
    the user group of each.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        existing_workteam_arn: Optional[str] = None,
        existing_user_pool: Optional[cognito.IUserPool] = None,
        existing_user_pool_client: Optional[cognito.IUserPoolClient] = None,
        worker_emails: Sequence[str] = (),
        description: Optional[str] = None,
        mfa: Optional[cognito.Mfa] = None,
        password_policy: Optional[cognito.PasswordPolicy] = None,
        removal_policy: Optional[RemovalPolicy] = None,
        subscribe_workers_to_notifications: Optional[bool] = None,
        invitation_subject: Optional[str] = None,
        log_retention: Optional[logs.RetentionDays] = None,
        user_pool_props: Optional[cognito.UserPoolProps] = None,
    ) -> None:
        super().__init__(scope, construct_id)
        pool_overrides = struct_values(user_pool_props)
        owned = [name for name in _POOL_FIELDS_OWNED if name in pool_overrides]
        if owned:
            raise ValueError("; ".join(f"user_pool_props.{name} cannot be set: {_POOL_FIELDS_OWNED[name]}"
                                       for name in owned))
        given_as_props = {"mfa": mfa, "password_policy": password_policy, "removal_policy": removal_policy}
        for name in _POOL_FIELDS_AS_PROPS:
            if name in pool_overrides:
                value = pool_overrides.pop(name)
                if given_as_props[name] is not None and given_as_props[name] != value:
                    raise ValueError(f"user_pool_props.{name} ({value}) and {name} ({given_as_props[name]}) differ: "
                                     f"give it once, as {name}")
                given_as_props[name] = value
        mfa, password_policy = given_as_props["mfa"], given_as_props["password_policy"]
        removal_policy = given_as_props["removal_policy"]
        settings = {"description": description, "mfa": mfa, "password_policy": password_policy,
                    "removal_policy": removal_policy, "subscribe_workers_to_notifications": subscribe_workers_to_notifications,
                    "invitation_subject": invitation_subject, "log_retention": log_retention,
                    "user_pool_props": user_pool_props}
        given = [name for name, value in settings.items() if value is not None]
        if existing_workteam_arn and given:  # they configure what this construct creates; silently unused otherwise
            raise ValueError(f"{', '.join(given)} configure a workteam this construct creates; they cannot apply to "
                             "existing_workteam_arn")
        if (existing_user_pool is None) != (existing_user_pool_client is None):
            given_one, missing = (("existing_user_pool", "existing_user_pool_client") if existing_user_pool_client is None
                                  else ("existing_user_pool_client", "existing_user_pool"))
            raise ValueError(f"{given_one} needs {missing}: a team of an existing private workforce signs in through "
                             "that workforce's user pool and its app client; give both, or neither")
        if existing_user_pool is not None and existing_workteam_arn:
            raise ValueError("existing_user_pool and existing_user_pool_client make a new team of an existing "
                             "workforce, existing_workteam_arn reuses a whole workteam: give one or the other")
        pool_settings = [name for name in ("mfa", "password_policy", "invitation_subject", "user_pool_props")
                         if settings[name] is not None]
        if existing_user_pool is not None and pool_settings:  # the workforce's pool is its owner's to configure
            raise ValueError(f"{', '.join(pool_settings)} configure a user pool this construct creates; they cannot "
                             "apply to existing_user_pool, whose settings belong to its workforce")
        description = "Private workteam for Ground Truth custom labeling" if description is None else description
        mfa = cognito.Mfa.OPTIONAL if mfa is None else mfa
        password_policy = _DEFAULT_PASSWORD_POLICY if password_policy is None else password_policy
        removal_policy = RemovalPolicy.RETAIN if removal_policy is None else removal_policy
        subscribe_workers_to_notifications = True if subscribe_workers_to_notifications is None \
            else subscribe_workers_to_notifications
        invitation_subject = "You are invited to a labeling workteam" if invitation_subject is None else invitation_subject
        log_retention = logs.RetentionDays.ONE_YEAR if log_retention is None else log_retention
        self.worker_emails = worker_emails_rule(worker_emails, "worker_emails", deploy_time=Token.is_unresolved)
        self.workteam: Optional[sagemaker.CfnWorkteam] = None
        self.user_pool = self.user_pool_domain = self.user_pool_client = self.worker_group = None
        self.notification_topic = self.notification_key = self.portal = self.portal_function = None
        self.portal_provider = self.portal_provider_log_group = None
        self.portal_url: Optional[str] = None
        #: The user group of each team ``add_workteam`` made, by its construct id.
        self.added_groups: dict[str, cognito.CfnUserPoolGroup] = {}
        #: The task-notification topic of each team ``add_workteam`` made, by its construct id.
        self.added_topics: dict[str, sns.Topic] = {}
        if existing_workteam_arn:
            if self.worker_emails:
                raise ValueError("worker_emails cannot be invited into an existing workteam; manage them in its own user pool")
            # Checked here, by this prop's name: a job refuses it only later, naming its own workteam_arn.
            if not Token.is_unresolved(existing_workteam_arn):
                try:
                    job_settings.workteam_arn(existing_workteam_arn, "existing_workteam_arn")
                except job_settings.JobSettingError as error:
                    raise ValueError(str(error)) from None
            check_workteam_environment(self, existing_workteam_arn, "existing_workteam_arn")
            self.workteam_arn = existing_workteam_arn
            return

        stack = Stack.of(self)
        others = [construct for construct in stack.node.find_all() if construct is not self
                  and isinstance(construct, PrivateWorkteam) and construct.user_pool is not None
                  and Stack.of(construct) is stack]
        # Teams of one existing workforce may sit side by side; a pool made here beside any other team's pool may not.
        other = next((construct for construct in others if existing_user_pool is None
                      or construct.user_pool_domain is not None), None)
        if other is not None:
            # Their Cognito domains would share one prefix (it is derived from the stack), and an account has one
            # private workforce (one user pool) per region: the second team's workteam would fail at deploy anyway.
            whose = "its own user pool" if other.user_pool_domain is not None else "an existing workforce's user pool"
            raise ValueError(f"{self.node.path}: stack {stack.node.path} already has a PrivateWorkteam with {whose} "
                             f"({other.node.path}); an account has one private workforce, one Cognito user "
                             "pool, per region. Make the second team with add_workteam on the first, or pass "
                             "existing_workteam_arn.")
        if existing_user_pool is not None:
            _check_pool_region(self, existing_user_pool)
            self.user_pool, self.user_pool_client = existing_user_pool, existing_user_pool_client
        else:
            self._create_user_pool(mfa, password_policy, removal_policy, pool_overrides)
        self.worker_group = cognito.CfnUserPoolGroup(
            self, "WorkerGroup",
            user_pool_id=self.user_pool.user_pool_id,
            description="Workers of the private labeling workteam",
        )

        self.notification_key = kms.Key(
            self, "NotificationKey",
            enable_key_rotation=True,
            description="Encrypts the labeling workteam's task notifications",
            removal_policy=removal_policy,
        )
        sagemaker_principal = iam.ServicePrincipal("sagemaker.amazonaws.com")
        self.notification_key.add_to_resource_policy(iam.PolicyStatement(
            sid="SageMakerPublishesEncryptedNotifications",
            principals=[sagemaker_principal],
            actions=["kms:GenerateDataKey*", "kms:Decrypt"],
            resources=["*"],  # in a key policy "*" means this key
            conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
        ))
        self.notification_topic = self._notification_topic("TaskNotifications", "New labeling tasks")
        if subscribe_workers_to_notifications:
            for email in self.worker_emails:
                self.notification_topic.add_subscription(subscriptions.EmailSubscription(email))

        self.workteam = sagemaker.CfnWorkteam(
            self, "Workteam",
            description=_workteam_description(description),
            member_definitions=[sagemaker.CfnWorkteam.MemberDefinitionProperty(
                cognito_member_definition=sagemaker.CfnWorkteam.CognitoMemberDefinitionProperty(
                    cognito_user_pool=self.user_pool.user_pool_id,
                    cognito_client_id=self.user_pool_client.user_pool_client_id,
                    cognito_user_group=self.worker_group.ref,
                ),
            )],
            notification_configuration=sagemaker.CfnWorkteam.NotificationConfigurationProperty(
                notification_topic_arn=self.notification_topic.topic_arn,
            ),
        )
        if self.user_pool_domain is not None:
            self.workteam.node.add_dependency(self.user_pool_domain)  # the workforce needs the domain
        self.workteam_arn = self.workteam.ref

        self._add_portal(invitation_subject, description, log_retention, removal_policy)

    def _create_user_pool(self, mfa: cognito.Mfa, password_policy: cognito.PasswordPolicy,
                          removal_policy: RemovalPolicy, overrides: dict[str, Any]) -> None:
        """The user pool of a new private workforce (``overrides``, the caller's UserPoolProps fields, over its
        defaults), its domain and the labeling portal's app client."""
        stack = Stack.of(self)
        defaults = dict(
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True, username=False),
            standard_attributes=cognito.StandardAttributes(email=cognito.StandardAttribute(required=True, mutable=True)),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            password_policy=password_policy,
            mfa=mfa,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            deletion_protection=removal_policy == RemovalPolicy.RETAIN,
        )
        self.user_pool = cognito.UserPool(self, "UserPool", **{**defaults, **overrides}, removal_policy=removal_policy)
        acknowledge(self.user_pool, "AwsSolutions-COG8",
                    "Workers sign in through SageMaker's labeling portal only; the Plus tier's threat protection "
                    "is a per-user cost the caller can opt into (user_pool_props: feature_plan=FeaturePlan.PLUS).")
        if mfa != cognito.Mfa.REQUIRED:
            acknowledge(self.user_pool, "AwsSolutions-COG2",
                        "MFA is optional by default, which protects only workers enrolled another way: Cognito's "
                        "managed login (the labeling portal's sign-in) asks no one to enrol unless MFA is required. "
                        "Requiring an authenticator app of every crowd worker is the workforce owner's decision: "
                        "mfa=Mfa.REQUIRED makes each enrol a TOTP app at first sign-in.")
        # Hosted-UI prefixes are global across AWS: derive one from the stack's unique id.
        stack_uuid_head = Fn.select(0, Fn.split("-", Fn.select(2, Fn.split("/", stack.stack_id))))
        self.user_pool_domain = self.user_pool.add_domain(
            "Domain",
            cognito_domain=cognito.CognitoDomainOptions(domain_prefix=Fn.join("-", ["gt-workers", stack_uuid_head])),
        )
        self.user_pool_client = self.user_pool.add_client(
            "PortalClient",
            generate_secret=True,  # SageMaker's labeling portal is a confidential OAuth client
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True, implicit_code_grant=True),
                scopes=[cognito.OAuthScope.EMAIL, cognito.OAuthScope.OPENID, cognito.OAuthScope.PROFILE],
                # Replaced by the portal's URLs once the workteam exists (see _add_portal).
                callback_urls=[_PLACEHOLDER_CALLBACK],
                logout_urls=[_PLACEHOLDER_LOGOUT],
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True,
        )

    def _notification_topic(self, construct_id: str, display_name: str) -> sns.Topic:
        """An SNS topic SageMaker publishes a team's new-task notifications to, encrypted with the notification key."""
        topic = sns.Topic(self, construct_id, master_key=self.notification_key, enforce_ssl=True,
                          display_name=display_name[:100])
        stack = Stack.of(self)
        # As SageMaker's guide writes a work team topic's policy ("Create the Amazon SNS topic"): published for a
        # workteam of this account. Any of its workteams: naming this team's ARN would make the topic and the team,
        # which names the topic, depend on each other.
        topic.add_to_resource_policy(iam.PolicyStatement(
            sid="SageMakerPublishesTaskNotifications",
            principals=[iam.ServicePrincipal("sagemaker.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={"StringEquals": {"aws:SourceAccount": stack.account},
                        "ArnLike": {"aws:SourceArn": stack.format_arn(service="sagemaker", resource="workteam",
                                                                      resource_name="*")}},
        ))
        return topic

    def _add_portal(self, invitation_subject: str, description: str, log_retention: logs.RetentionDays,
                    removal_policy: RemovalPolicy) -> None:
        # An existing workforce's pool and client are its owner's: the portal step only reads the portal URL (the
        # workteam's sub-domain, known once it exists; CloudFormation returns no such attribute) and invites.
        own_pool = self.user_pool_domain is not None
        self.portal_function = least_privilege_function(self, "PortalFunction", log_retention=log_retention,
                                                        removal_policy=removal_policy, props={
            "code": own_folder_code(_PORTAL_RESOURCE_CODE), "handler": f"{_PORTAL_RESOURCE_CODE.name}.handler.on_event",
            "runtime": RUNTIME, "timeout": Duration.minutes(2),
            "description": "Points the workteam's Cognito client at the labeling portal and invites workers" if own_pool
            else "Reads the workteam's labeling portal URL and invites workers into its group",
        })
        self.portal_function.add_to_role_policy(iam.PolicyStatement(
            actions=["sagemaker:DescribeWorkteam"],
            resources=[self.workteam_arn],
        ))
        invitations = ["cognito-idp:AdminCreateUser", "cognito-idp:AdminAddUserToGroup",
                       "cognito-idp:AdminRemoveUserFromGroup"]
        pool_and_client = ["cognito-idp:DescribeUserPool", "cognito-idp:UpdateUserPool",
                           "cognito-idp:DescribeUserPoolClient", "cognito-idp:UpdateUserPoolClient"]
        self.portal_function.add_to_role_policy(iam.PolicyStatement(
            actions=[*pool_and_client, *invitations] if own_pool else invitations,
            resources=[self.user_pool.user_pool_arn],
        ))
        self.portal_provider_log_group = logs.LogGroup(self, "PortalProviderLogs", retention=log_retention,
                                                       removal_policy=removal_policy)
        self.portal_provider = provider = cr.Provider(
            self, "PortalProvider",
            on_event_handler=self.portal_function,
            log_group=self.portal_provider_log_group,
        )
        acknowledge_provider_framework(provider, [self.portal_function])
        properties = {
            "WorkteamName": self.workteam.attr_workteam_name,
            "UserPoolId": self.user_pool.user_pool_id,
            "UserGroupName": self.worker_group.ref,
            "WorkerEmails": self.worker_emails,
        }
        if own_pool:
            properties.update({
                "UserPoolClientId": self.user_pool_client.user_pool_client_id,
                "InvitationSubject": invitation_subject,
                "JobDescription": description,
                # CloudFormation puts the placeholder URLs back whenever it updates the client, and
                # resets the invitation message (which only UpdateUserPool sets) whenever it updates
                # the pool: any change to either's template must run the portal step again.
                "ClientSettings": template_fingerprint(self.user_pool_client.node.default_child),
                "UserPoolSettings": template_fingerprint(self.user_pool.node.default_child),
            })
        else:
            properties["ExistingWorkforce"] = "true"  # the handler leaves the pool and its client as they are
        self.portal = CustomResource(
            self, "Portal",
            service_token=provider.service_token,
            resource_type="Custom::GroundTruthWorkteamPortal",
            properties=properties,
        )
        self.portal_url = self.portal.get_att_string("PortalUrl")

    def add_workteam(self, construct_id: str, *, description: str,
                     notification_emails: Sequence[str] = ()) -> sagemaker.CfnWorkteam:
        """A second workteam of the same private workforce (an account has one per region): a user
        group of its own in this workteam's user pool (the existing workforce's, when given), signing in
        through the same app client and portal. Its members are added to its group (``cognito-idp admin-add-user-to-group``); a user
        may be in both teams. Like the first team, it has a task-notification topic of its own
        (``added_topics[construct_id]``, encrypted with the same key), to which ``notification_emails``
        are subscribed (others subscribe to it as to the first team's). Not possible for a reused
        workteam (this construct has no pool then)."""
        if self.user_pool is None:
            raise ValueError("add_workteam needs the workteam's own user pool; with existing_workteam_arn, create "
                             "the other team in that workforce and pass its ARN instead")
        # The team's parts are children of this construct named after construct_id: one already there (this
        # construct's own "Workteam", or a team added before) would otherwise fail in jsii naming neither.
        parts = (f"{construct_id}Group", f"{construct_id}TaskNotifications", construct_id)
        taken = next((part for part in parts if self.node.try_find_child(part) is not None), None)
        if taken is not None:
            raise ValueError(f"add_workteam({construct_id!r}): {self.node.path} already has a part named {taken!r}; "
                             "give the team another construct_id")
        group = cognito.CfnUserPoolGroup(self, f"{construct_id}Group", user_pool_id=self.user_pool.user_pool_id,
                                         description=description[:2048])
        self.added_groups[construct_id] = group
        emails = worker_emails_rule(notification_emails, "notification_emails", deploy_time=Token.is_unresolved)
        topic = self._notification_topic(f"{construct_id}TaskNotifications", f"New labeling tasks: {construct_id}")
        for email in emails:
            topic.add_subscription(subscriptions.EmailSubscription(email))
        self.added_topics[construct_id] = topic
        workteam = sagemaker.CfnWorkteam(
            self, construct_id,
            description=_workteam_description(description),
            member_definitions=[sagemaker.CfnWorkteam.MemberDefinitionProperty(
                cognito_member_definition=sagemaker.CfnWorkteam.CognitoMemberDefinitionProperty(
                    cognito_user_pool=self.user_pool.user_pool_id,
                    cognito_client_id=self.user_pool_client.user_pool_client_id,
                    cognito_user_group=group.ref,
                ),
            )],
            notification_configuration=sagemaker.CfnWorkteam.NotificationConfigurationProperty(
                notification_topic_arn=topic.topic_arn),
        )
        workteam.node.add_dependency(self.workteam)  # the first team creates the workforce
        return workteam

    def grant_describe(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow reading the workteam's description (e.g. its portal sub-domain)."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["sagemaker:DescribeWorkteam"], resource_arns=[self.workteam_arn])


def _check_pool_region(scope: Construct, pool: cognito.IUserPool) -> None:
    """A private workforce, its user pool and its teams are of one region: a pool of another region than the stack's
    (a user pool id starts with its region, ``us-east-1_AbCdEf123``) is refused at synth, not by CloudFormation when
    the workteam is created. Compared only when both are known at synth."""
    pool_id, region = pool.user_pool_id, Stack.of(scope).region
    if Token.is_unresolved(pool_id) or Token.is_unresolved(region) or "_" not in pool_id:
        return
    pool_region = pool_id.split("_", 1)[0]
    if pool_region != region:
        raise ValueError(f"existing_user_pool {pool_id!r} is a pool of {pool_region}, but stack "
                         f"{Stack.of(scope).node.path} deploys to {region}: a private workforce and its teams are of "
                         "one region (make the team where the workforce is)")


#: SageMaker's limit on a workteam's description (CreateWorkteam: 1 to 200 characters).
WORKTEAM_DESCRIPTION_MAX = 200


def _workteam_description(description: str) -> str:
    """``description`` if SageMaker takes it as a workteam's; refused at synth otherwise (not at deploy)."""
    if Token.is_unresolved(description):
        return description
    if not 1 <= len(description) <= WORKTEAM_DESCRIPTION_MAX:
        raise ValueError(f"a workteam's description has 1 to {WORKTEAM_DESCRIPTION_MAX} characters, not "
                         f"{len(description)}: {description[:60]!r}")
    return description
