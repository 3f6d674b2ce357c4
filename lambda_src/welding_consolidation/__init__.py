"""Annotation consolidation for the welding-defect classification job.

``handler.lambda_handler`` is the Lambda entry point; ``votes`` turns submitted forms into votes,
``majority_vote`` is the current (swappable) voting strategy and ``categories`` is the single
source of the label list.
"""
