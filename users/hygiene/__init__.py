"""Access-key hygiene (issue 17): the account's stale access keys and its console users without
MFA, read from IAM's credential report (users/hygiene/report.py); the bulk deactivation of
stale keys as a job, its web side (users/hygiene/deactivation.py) and its worker side
(users/hygiene/keys.py)."""
