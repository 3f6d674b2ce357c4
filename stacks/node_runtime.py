"""The environment of a process that runs the CDK app (jsii's Node runtime), for the Python that starts one: the
local runner's synthesis, the scaffold's snapshot run, the tests. Imports no aws_cdk. (The shell scripts' copy is
``scripts/common.sh``.)"""

#: jsii prints a box of warnings at every start on Node 20, past its end of life; the project supports Node 20+.
QUIET_NODE = {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
