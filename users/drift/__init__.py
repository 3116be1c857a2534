"""Drift: "Changes since your last visit" — what changed in IAM without going through this console.

How it works (the design, issue 17):

- **What is compared.** A compact state of every user, built without any per-user call from the
  two account-wide reads the Users list makes anyway, both cached (users/iam/gateway.py): the users
  index (GetAccountAuthorizationDetails: user id, groups, attached and inline policies' names) and
  IAM's credential report (console password enabled; each access key's creation time and whether
  it is active: the report has no key ids). No secret is ever part of it.
- **Last visit.** Each operator has, per IAM (backend, endpoint and role), one `DriftVisit` row: the
  state at their last visit, compressed. The first time they open the page, the console takes that
  baseline and says so (nothing to list yet). **Mark as seen** (POST) takes the current state as the
  new baseline; merely opening the page does not, so nothing is missed by a glance. Mark as seen only
  moves forward when the changes listed are still the ones the operator saw (a digest of their
  keys), otherwise the page shows the newer list first.
- **Changes.** The difference between the last visit's state and the current one — user created or
  deleted, added to or removed from a group, policy attached or detached (inline ones count too:
  put or deleted), access key created, deleted, activated or deactivated, console access enabled or
  disabled — minus what the audit trail recorded through this console since then: each successful
  audited call (the IAM operation, its user as the target) explains one change of the same user and
  kind (of the same group or policy, for those). A deleted user is one change, whatever it had.
  Net changes only: a group added and removed again between two visits is no change.
- **Times.** Index changes are explained by audit rows since the visit (less AUDIT_MARGIN: a job's
  changes reach the cached index up to a couple of seconds late); key and password changes by rows
  since the credential report of the visit was generated (real IAM makes one at most every 4 hours,
  so they can show late, and a user missing from the report has no key or password state until it
  is in one: compared from then on). "First seen" is when the console first noticed a change (the
  page, or the badge), kept in the operator's row.
- **Badge.** The navigation shows the number of pending changes. It never calls IAM: it is computed
  from the cached index and report only (else the count last computed is shown), at most once every
  BADGE_SECONDS per operator and generation of the gateway's cache (so a change made through the
  console has it counted again); an operator who never opened the page costs one indexed query per
  LAST_COUNT_SECONDS. Any failure (IAM, Redis, the database) leaves the badge out, never the page.

`changes` is the pure part (states, differences, audit matching), `visits` the stored one (the
operator's row, the page's computation, Mark as seen, the badge).
"""
