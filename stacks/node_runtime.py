"""The environment of a process that runs the CDK app (jsii's Node runtime), for the Python that starts one: the
local runner's synthesis, the scaffold's snapshot run, the tests. Imports no aws_cdk. (The shell scripts' copy is
``scripts/common.sh``.)"""

#: jsii prints a box of warnings at every start on Node 20, past its end of life; the project supports Node 20+.
QUIET_NODE = {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}

#: For a synthesis that deploys nothing (the local runner's, the tests'): CDK's built-in template validation, off.
#: It is AWS's offline template validator (``@aws/cloudformation-validate``, WebAssembly, cfn-lint's rule numbers), run
#: after every synthesis unless ``CDK_VALIDATION=false``; in this app it only warns (cdk.json leaves
#: ``@aws-cdk/core:validateAgainstDefaultRules`` unset), yet starting its engine takes ~3.6 s of CPU in every process
#: that synthesizes: 4.3 s of the local runner's 10.7 s synthesis (bench/results/synth.md). ``cdk synth``,
#: ``cdk deploy`` and ``./scripts/synth.sh`` keep it, and the tests run cfn-lint itself on every template.
NO_TEMPLATE_VALIDATION = {"CDK_VALIDATION": "false"}
