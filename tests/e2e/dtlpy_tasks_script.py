"""A dtlpy script over tasks and statuses: run by tests/e2e/test_dtlpy_script.py."""

import os

import dtlpy as dl

BASE, TOKEN = os.environ["CLF_BASE"], os.environ["CLF_TOKEN"]

dl.add_environment(environment=BASE + "/api/v1", alias="clf", verify_ssl=False)
dl.setenv("clf")
dl.login_token(TOKEN)
dataset = dl.projects.get(project_name="Demo shop").datasets.get(dataset_name="Catalogue photos")
task = dataset.tasks.list()[0]
print("task:", task.name, task.total_items)
for item in dataset.items.list().all():
    item.update_status(status="completed")  # the task is found in the item's refs
print("status:", dl.tasks.get(task_id=task.id).item_status["completed"])
