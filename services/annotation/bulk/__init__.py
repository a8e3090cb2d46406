"""Bulk classification in the annotation service: the plan (plan.py, pure) and the two bulk
commands of the `classify` stream (handlers.py)."""
