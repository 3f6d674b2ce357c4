"""LabelingWorkforceStack: the private workteam every workflow stack of an environment shares.

An AWS account has one private workforce per region, tied to one Cognito user pool, so the
workteam lives in a stack of its own and the workflow stacks take its ARN. With ``existingWorkforce``
the teams are made in that workforce's user pool, through its app client, instead of a pool of the stack's own.
"""
from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from labeling_constructs import PrivateWorkteam

from .environment_config import EnvironmentConfig


class LabelingWorkforceStack(Stack):
    """The crowd's workteam (``workerEmails`` invited and subscribed to its task notifications) and, with review on
    and no ``expertWorkteamArn``, the experts' team beside it. Outputs: ``WorkteamArn``, ``LabelingPortalUrl``,
    ``UserPoolId`` (the pool made here or the existing workforce's) and, with the experts' team, ``ExpertWorkteamArn``,
    ``ExpertGroupName`` and ``ExpertNotificationTopicArn``."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs) -> None:
        super().__init__(scope, construct_id, env=config.cdk_environment,
                         description="Ground Truth custom labeling: the private workteam", **kwargs)
        pool = client = None
        if config.existing_workforce is not None:
            pool = cognito.UserPool.from_user_pool_id(self, "WorkforceUserPool",
                                                      config.existing_workforce.user_pool_id)
            client = cognito.UserPoolClient.from_user_pool_client_id(self, "WorkforceClient",
                                                                     config.existing_workforce.client_id)
        self.workteam = PrivateWorkteam(
            self, "Workteam",
            existing_user_pool=pool,
            existing_user_pool_client=client,
            worker_emails=config.worker_emails,
            description="Crowd workers who label the data of the project's custom labeling workflows",
            removal_policy=config.removal_policy,
        )
        # The experts who review what the crowd could not settle: a team of the same workforce, whose task
        # notifications go to the environment's expertEmails (more may subscribe to its topic, README).
        self.expert_workteam = None
        if config.review.enabled and not config.expert_workteam_arn:
            self.expert_workteam = self.workteam.add_workteam(
                "ExpertWorkteam", description="Experts who review the labels the crowd could not settle",
                notification_emails=config.expert_emails)
            CfnOutput(self, "ExpertWorkteamArn", value=self.expert_workteam.ref)
            CfnOutput(self, "ExpertGroupName", value=self.workteam.added_groups["ExpertWorkteam"].ref,
                      description="The Cognito group of the experts: add each expert's user to it")
            CfnOutput(self, "ExpertNotificationTopicArn",
                      value=self.workteam.added_topics["ExpertWorkteam"].topic_arn,
                      description="The experts' task notifications: subscribe each expert's email to it")
        CfnOutput(self, "WorkteamArn", value=self.workteam.workteam_arn)
        CfnOutput(self, "LabelingPortalUrl", value=self.workteam.portal_url)
        if self.workteam.user_pool is not None:
            CfnOutput(self, "UserPoolId", value=self.workteam.user_pool.user_pool_id,
                      description="The workforce's Cognito user pool, where workers and experts are users")
