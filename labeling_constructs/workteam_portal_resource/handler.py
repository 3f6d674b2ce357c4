"""Point a workteam's Cognito app client at its labeling portal and invite its workers.

The portal's sub-domain exists only once the workteam does, while the workteam needs the app
client first; so this runs after both. UpdateUserPool and UpdateUserPoolClient reset every field
they are not given, so both are read-modify-write, with the updatable fields taken from the
botocore model (a field AWS adds later is carried over too, never silently reset).

For a team of an existing private workforce (``ExistingWorkforce`` "true"), the pool and its app client are
the workforce's: they already serve its portal and are left as they are. Only the portal URL is read and the
workers are invited, with the pool's own invitation message.
"""
from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

import boto3

from .worker_emails import worker_emails

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)


@lru_cache(maxsize=1)
def sagemaker():
    return boto3.client("sagemaker")


@lru_cache(maxsize=1)
def cognito():
    return boto3.client("cognito-idp")


def _updatable(client, operation: str, described: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``described`` that ``operation`` accepts."""
    members = client.meta.service_model.operation_model(operation).input_shape.members
    return {key: value for key, value in described.items() if key in members}


def portal_url(workteam_name: str) -> tuple[str, str]:
    sub_domain = sagemaker().describe_workteam(WorkteamName=workteam_name)["Workteam"]["SubDomain"]
    host = sub_domain.removeprefix("https://").rstrip("/")
    return f"https://{host}", host


def point_client_at_portal(user_pool_id: str, client_id: str, url: str) -> None:
    described = cognito().describe_user_pool_client(UserPoolId=user_pool_id, ClientId=client_id)["UserPoolClient"]
    update = _updatable(cognito(), "UpdateUserPoolClient", described)
    update.update(
        CallbackURLs=[f"{url}/oauth2/idpresponse"],
        LogoutURLs=[f"{url}/logout"],
        AllowedOAuthFlows=described.get("AllowedOAuthFlows") or ["code", "implicit"],
        AllowedOAuthScopes=described.get("AllowedOAuthScopes") or ["email", "openid", "profile"],
        AllowedOAuthFlowsUserPoolClient=True,
        SupportedIdentityProviders=described.get("SupportedIdentityProviders") or ["COGNITO"],
    )
    update.pop("DefaultRedirectURI", None)  # would have to be one of the old callback URLs
    cognito().update_user_pool_client(**update)


def set_invitation(user_pool_id: str, url: str, subject: str, job_description: str) -> None:
    described = cognito().describe_user_pool(UserPoolId=user_pool_id)["UserPool"]
    update = _updatable(cognito(), "UpdateUserPool", described)
    update["UserPoolId"] = user_pool_id
    admin = dict(update.get("AdminCreateUserConfig") or {})
    admin["AllowAdminCreateUserOnly"] = admin.get("AllowAdminCreateUserOnly", True)
    # Deprecated twin of the password policy's TemporaryPasswordValidityDays; sending both fails.
    admin.pop("UnusedAccountValidityDays", None)
    template = dict(admin.get("InviteMessageTemplate") or {})
    template["EmailSubject"] = subject
    template["EmailMessage"] = (
        f"<p>You are invited to label data: {_html(job_description)}.</p>"
        f"<p>Sign in at <a href=\"{url}\">{url}</a> with the user name {{username}} and the temporary "
        "password {####}. You will choose a new password at first sign-in.</p>"
    )
    admin["InviteMessageTemplate"] = template
    update["AdminCreateUserConfig"] = admin
    # Cognito rejects these read-only or derived fields when echoed back.
    for field in ("UsernameConfiguration", "SchemaAttributes", "AliasAttributes", "UsernameAttributes"):
        update.pop(field, None)
    cognito().update_user_pool(**update)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def invite(user_pool_id: str, group: str, emails: list[str]) -> None:
    for email in emails:
        try:
            cognito().admin_create_user(
                UserPoolId=user_pool_id, Username=email, DesiredDeliveryMediums=["EMAIL"],
                UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}])
            LOG.info("invited %s", email)
        except cognito().exceptions.UsernameExistsException:
            LOG.info("%s already has an account; adding to the group only", email)
        cognito().admin_add_user_to_group(UserPoolId=user_pool_id, Username=email, GroupName=group)


def remove_from_group(user_pool_id: str, group: str, emails: list[str]) -> None:
    """Workers taken off the list lose access to the team's tasks; their accounts stay."""
    for email in emails:
        try:
            cognito().admin_remove_user_from_group(UserPoolId=user_pool_id, Username=email, GroupName=group)
        except cognito().exceptions.UserNotFoundException:
            LOG.info("%s no longer exists; nothing to remove", email)


def _emails(properties: dict[str, Any]) -> list[str]:
    return worker_emails(properties.get("WorkerEmails") or [])


def on_event(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    properties = event["ResourceProperties"]
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": event["PhysicalResourceId"]}  # the pool belongs to CloudFormation
    emails = _emails(properties)
    url, host = portal_url(properties["WorkteamName"])
    pool, group = properties["UserPoolId"], properties["UserGroupName"]
    if str(properties.get("ExistingWorkforce", "")).lower() != "true":
        point_client_at_portal(pool, properties["UserPoolClientId"], url)
        set_invitation(pool, url, properties.get("InvitationSubject") or "You are invited to a labeling workteam",
                       properties.get("JobDescription") or "a private Ground Truth labeling workteam")
    invite(pool, group, emails)
    if event["RequestType"] == "Update":
        old = (event.get("OldResourceProperties") or {}).get("WorkerEmails") or []
        remove_from_group(pool, group, [e for e in old if e not in emails])
    return {"PhysicalResourceId": f"{pool}/{properties['WorkteamName']}",
            "Data": {"PortalUrl": url, "SubDomain": host}}
