"""The issue's dtlpy script, unchanged but for where it reads its environment: run by
tests/e2e/test_dtlpy_script.py in a subprocess against a live platform."""

import os
import sys

import dtlpy as dl

BASE, TOKEN = os.environ["CLF_BASE"], os.environ["CLF_TOKEN"]

dl.add_environment(environment=BASE + "/api/v1", alias="clf", verify_ssl=False)
dl.setenv("clf")
dl.login_token(TOKEN)
project = dl.projects.get(project_name="Demo shop")
dataset = project.datasets.get(dataset_name="Catalogue photos")
for item in dataset.items.list().all():
    builder = item.annotations.builder()
    builder.add(annotation_definition=dl.Classification(label="men's clothes.polo shirts"))
    item.annotations.upload(builder)
    print([a.label for a in item.annotations.list()])
sys.stdout.flush()
