"""Helpers shared by the project's Lambdas.

The question types of every workflow are in ``questions``. The consolidation building blocks (payload
reading, answer shapes, the worker model, span clustering, the job's memory of workers, quality
reports) are listed in ``workflow_consolidation``'s docstring, with how a workflow plugs in its own
consolidation function on top of them.
"""
