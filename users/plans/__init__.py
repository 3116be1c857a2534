"""Reviewed plans (users/provisioning.py `UserPlan`) written out as code for other tools."""
