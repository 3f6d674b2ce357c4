"""The workteam-portal custom resource against the real SageMaker and Cognito API models (Stubber)."""
from __future__ import annotations

import re

import boto3
import pytest
from botocore.stub import ANY, Stubber

from labeling_constructs.workteam_portal_resource import handler
from labeling_constructs.workteam_portal_resource.worker_emails import EmailError, worker_emails

POOL = "us-east-1_AbCdEf123"
PROPERTIES = {
    "ServiceToken": "arn:aws:lambda:us-east-1:111122223333:function:provider",
    "WorkteamName": "welders",
    "UserPoolId": POOL,
    "UserPoolClientId": "client123",
    "UserGroupName": "workers",
    "WorkerEmails": ["ana@example.org", "bo@example.org"],
    "InvitationSubject": "Join the welding reviewers",
    "JobDescription": "Welding quality <reviewers>",
}
SUB_DOMAIN = "abc123xyz.labeling.us-east-1.sagemaker.aws"
PORTAL = f"https://{SUB_DOMAIN}"


@pytest.fixture
def stubs(monkeypatch):
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    cognito = boto3.client("cognito-idp", region_name="us-east-1")
    monkeypatch.setattr(handler, "sagemaker", lambda: sagemaker)
    monkeypatch.setattr(handler, "cognito", lambda: cognito)
    with Stubber(sagemaker) as sm, Stubber(cognito) as idp:
        yield sm, idp
        sm.assert_no_pending_responses()
        idp.assert_no_pending_responses()


def described_pool():
    return {"UserPool": {
        "Id": POOL, "Name": "pool",
        "Policies": {"PasswordPolicy": {"MinimumLength": 12, "RequireUppercase": True, "RequireLowercase": True,
                                        "RequireNumbers": True, "RequireSymbols": True,
                                        "TemporaryPasswordValidityDays": 7}},
        "MfaConfiguration": "OPTIONAL",
        "DeletionProtection": "ACTIVE",
        "AutoVerifiedAttributes": ["email"],
        "UsernameAttributes": ["email"],
        "AccountRecoverySetting": {"RecoveryMechanisms": [{"Priority": 1, "Name": "verified_email"}]},
        "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True, "UnusedAccountValidityDays": 7,
                                  "InviteMessageTemplate": {"SMSMessage": "code {####} user {username}"}},
        "SchemaAttributes": [{"Name": "email", "Required": True}],
    }}


def described_client():
    return {"UserPoolClient": {
        "UserPoolId": POOL, "ClientName": "portal", "ClientId": "client123", "ClientSecret": "s3cret-s3cret-s3cret-s3cret",
        "RefreshTokenValidity": 30, "ExplicitAuthFlows": ["ALLOW_REFRESH_TOKEN_AUTH"],
        "SupportedIdentityProviders": ["COGNITO"], "CallbackURLs": ["https://localhost/oauth2/idpresponse"],
        "LogoutURLs": ["https://localhost/logout"], "AllowedOAuthFlows": ["code", "implicit"],
        "AllowedOAuthScopes": ["email", "openid", "profile"], "AllowedOAuthFlowsUserPoolClient": True,
        "PreventUserExistenceErrors": "ENABLED",
    }}


def expect_portal_setup(sm, idp):
    sm.add_response("describe_workteam", {"Workteam": {
        "WorkteamName": "welders", "MemberDefinitions": [{"CognitoMemberDefinition": {"UserPool": POOL, "UserGroup": "workers", "ClientId": "client123"}}], "WorkteamArn": "arn:aws:sagemaker:us-east-1:1:workteam/private-crowd/welders",
        "Description": "d", "SubDomain": SUB_DOMAIN}}, {"WorkteamName": "welders"})
    idp.add_response("describe_user_pool_client", described_client(), {"UserPoolId": POOL, "ClientId": "client123"})
    idp.add_response("update_user_pool_client", {}, {
        "UserPoolId": POOL, "ClientId": "client123", "ClientName": "portal", "RefreshTokenValidity": 30,
        "ExplicitAuthFlows": ["ALLOW_REFRESH_TOKEN_AUTH"], "SupportedIdentityProviders": ["COGNITO"],
        "CallbackURLs": [f"{PORTAL}/oauth2/idpresponse"], "LogoutURLs": [f"{PORTAL}/logout"],
        "AllowedOAuthFlows": ["code", "implicit"], "AllowedOAuthScopes": ["email", "openid", "profile"],
        "AllowedOAuthFlowsUserPoolClient": True, "PreventUserExistenceErrors": "ENABLED"})
    idp.add_response("describe_user_pool", described_pool(), {"UserPoolId": POOL})
    idp.add_response("update_user_pool", {}, {
        "UserPoolId": POOL,
        "Policies": described_pool()["UserPool"]["Policies"],
        "MfaConfiguration": "OPTIONAL",
        "DeletionProtection": "ACTIVE",
        "AutoVerifiedAttributes": ["email"],
        "AccountRecoverySetting": described_pool()["UserPool"]["AccountRecoverySetting"],
        "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True, "InviteMessageTemplate": {
            "SMSMessage": "code {####} user {username}", "EmailSubject": "Join the welding reviewers", "EmailMessage": ANY}},
    })


def invited(idp, email, exists=False):
    if exists:
        idp.add_client_error("admin_create_user", service_error_code="UsernameExistsException")
    else:
        idp.add_response("admin_create_user", {"User": {"Username": email}}, {
            "UserPoolId": POOL, "Username": email, "DesiredDeliveryMediums": ["EMAIL"],
            "UserAttributes": [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}]})
    idp.add_response("admin_add_user_to_group", {}, {"UserPoolId": POOL, "Username": email, "GroupName": "workers"})


def test_create_points_client_at_portal_keeps_pool_settings_and_invites(stubs):
    sm, idp = stubs
    expect_portal_setup(sm, idp)
    invited(idp, "ana@example.org")
    invited(idp, "bo@example.org", exists=True)  # an existing account is fine
    result = handler.on_event({"RequestType": "Create", "ResourceProperties": PROPERTIES})
    assert result["Data"] == {"PortalUrl": PORTAL, "SubDomain": SUB_DOMAIN}


def test_invitation_names_the_portal_and_the_temporary_password(stubs, monkeypatch):
    sm, idp = stubs
    sent = {}
    original = handler.set_invitation

    def capture(pool, url, subject, description):
        cognito = handler.cognito()
        real_update = cognito.update_user_pool

        def spy(**kwargs):
            sent.update(kwargs)
            return real_update(**kwargs)
        monkeypatch.setattr(cognito, "update_user_pool", spy)
        original(pool, url, subject, description)
    monkeypatch.setattr(handler, "set_invitation", capture)
    expect_portal_setup(sm, idp)
    invited(idp, "ana@example.org")
    invited(idp, "bo@example.org")
    handler.on_event({"RequestType": "Create", "ResourceProperties": PROPERTIES})
    message = sent["AdminCreateUserConfig"]["InviteMessageTemplate"]["EmailMessage"]
    assert PORTAL in message and "{####}" in message and "{username}" in message
    assert "&lt;reviewers&gt;" in message  # the description is escaped in the HTML email
    assert sent["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert sent["MfaConfiguration"] == "OPTIONAL"


def test_update_removes_workers_taken_off_the_list(stubs):
    sm, idp = stubs
    expect_portal_setup(sm, idp)
    invited(idp, "ana@example.org", exists=True)
    idp.add_response("admin_remove_user_from_group", {}, {"UserPoolId": POOL, "Username": "bo@example.org", "GroupName": "workers"})
    handler.on_event({"RequestType": "Update", "PhysicalResourceId": "p",
                      "ResourceProperties": {**PROPERTIES, "WorkerEmails": ["ana@example.org"]},
                      "OldResourceProperties": PROPERTIES})


def test_delete_changes_nothing(stubs):
    assert handler.on_event({"RequestType": "Delete", "PhysicalResourceId": "p", "ResourceProperties": PROPERTIES}) == {
        "PhysicalResourceId": "p"}


@pytest.mark.parametrize("email", ["not-an-email", "a@b", 42, "<a@b.com>", "a,b@c.com", "a@b.com.", "a b@c.com"])
def test_a_bad_email_is_named_before_any_call(stubs, email):
    with pytest.raises(ValueError, match="WorkerEmails entry"):
        handler.on_event({"RequestType": "Create", "ResourceProperties": {**PROPERTIES, "WorkerEmails": [email]}})


def test_an_address_listed_twice_is_named_before_any_call(stubs):
    with pytest.raises(ValueError, match="WorkerEmails lists one address twice: 'ana@example.org' and 'Ana@Example.org'"):
        handler.on_event({"RequestType": "Create", "ResourceProperties": {
            **PROPERTIES, "WorkerEmails": ["ana@example.org", "Ana@Example.org"]}})


@pytest.mark.parametrize("good", [
    [], ["ana@example.org"], ("o'brien+labels@mail.example.co.uk", "x_y.z@sub-domain.example.io"),
    ["l" * 64 + "@example.org"], [f"a@{'d' * 63}.{'e' * 63}.{'f' * 63}.{'g' * 60}"],
])
def test_the_email_rule_takes_plain_addresses(good):
    assert worker_emails(good) == list(good)


@pytest.mark.parametrize("bad, message", [
    ("ana@example.org", "WorkerEmails must be a list of email addresses, not 'ana@example.org'"),
    (5, "WorkerEmails must be a list of email addresses, not 5"),
    (False, "WorkerEmails must be a list of email addresses, not False"),
    ({"ana@example.org": True}, "WorkerEmails must be a list of email addresses, not {'ana@example.org': True}"),
    (["<ana@example.org>"], "WorkerEmails entry '<ana@example.org>' is not an email address"),
    (["ana,bo@example.org"], "WorkerEmails entry 'ana,bo@example.org' is not an email address"),
    (["ana@example.org."], "WorkerEmails entry 'ana@example.org.' is not an email address"),
    (["ana..bo@example.org"], "WorkerEmails entry 'ana..bo@example.org' is not an email address"),
    (["ana@-example.org"], "WorkerEmails entry 'ana@-example.org' is not an email address"),
    (["josé@example.org"], "WorkerEmails entry 'josé@example.org' is not an email address"),
    (["l" * 65 + "@example.org"], "is not an email address"),
    ([f"a@{'d' * 63}.{'e' * 63}.{'f' * 63}.{'g' * 61}"], "is not an email address"),
    (["ana@example.org", "ana@example.org"], "WorkerEmails lists 'ana@example.org' twice"),
    (["ana@example.org", "bo@example.org", "ANA@example.org"],
     "WorkerEmails lists one address twice: 'ana@example.org' and 'ANA@example.org'"),
])
def test_the_email_rule_names_what_it_refuses(bad, message):
    with pytest.raises(EmailError, match=re.escape(message)):
        worker_emails(bad)


def test_an_update_of_the_pool_alone_writes_the_invitation_again(stubs):
    """CloudFormation resets the invite message whenever it updates the pool; the construct then
    changes UserPoolSettings, and the Update puts the portal's invitation back."""
    sm, idp = stubs
    expect_portal_setup(sm, idp)  # ends with update_user_pool carrying the invitation
    invited(idp, "ana@example.org", exists=True)
    invited(idp, "bo@example.org", exists=True)
    old = {**PROPERTIES, "UserPoolSettings": {"Digest": "1111111111111111", "References": []}}
    new = {**PROPERTIES, "UserPoolSettings": {"Digest": "2222222222222222", "References": []}}
    result = handler.on_event({"RequestType": "Update", "PhysicalResourceId": f"{POOL}/welders",
                               "ResourceProperties": new, "OldResourceProperties": old})
    assert result["PhysicalResourceId"] == f"{POOL}/welders"


EXISTING_WORKFORCE = {key: PROPERTIES[key] for key in ("ServiceToken", "WorkteamName", "UserPoolId", "UserGroupName",
                                                       "WorkerEmails")} | {"ExistingWorkforce": "true"}


def test_a_team_of_an_existing_workforce_leaves_its_pool_and_client_alone(stubs):
    """The workforce's pool and app client already serve its portal: only the portal URL is read and the
    workers invited; any DescribeUserPool/UpdateUserPool/UpdateUserPoolClient call fails the stubbed client."""
    sm, idp = stubs
    sm.add_response("describe_workteam", {"Workteam": {
        "WorkteamName": "welders", "MemberDefinitions": [{"CognitoMemberDefinition": {
            "UserPool": POOL, "UserGroup": "workers", "ClientId": "workforce-client"}}],
        "WorkteamArn": "arn:aws:sagemaker:us-east-1:1:workteam/private-crowd/welders", "Description": "d",
        "SubDomain": SUB_DOMAIN}}, {"WorkteamName": "welders"})
    invited(idp, "ana@example.org")
    invited(idp, "bo@example.org", exists=True)  # a worker of another team of the workforce
    result = handler.on_event({"RequestType": "Create", "ResourceProperties": EXISTING_WORKFORCE})
    assert result["Data"] == {"PortalUrl": PORTAL, "SubDomain": SUB_DOMAIN}
    assert result["PhysicalResourceId"] == f"{POOL}/welders"
