"""Bulk classification in a task: the check, the plan and the statuses (the annotation service writes the classes)."""
