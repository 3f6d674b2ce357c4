"""Post-creation setup of a private workteam: portal URLs on the Cognito client, worker invitations."""
