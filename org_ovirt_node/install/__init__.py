"""The install pipeline: plan -> layout -> deploy -> layer -> volumes -> boot config
-> boot loader.

Each step is a module with one job; pipeline.py runs them in order with one
progress reporter and undoes what was created if a step fails.
"""
