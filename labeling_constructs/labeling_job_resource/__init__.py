"""The Ground Truth labeling job as a CloudFormation custom resource (CDK Provider framework)."""
