"""portal-accounts: the domain layer shared by every Lambda function.

On Lambda, what a function's init (the import of its module) creates lives as long as the
execution environment: a cyclic garbage collection during init frees nothing, yet costs
about a tenth of the cold start (docs/performance.md). So, on Lambda only, collection is
paused from the first import of this package until the function's module has loaded
(`init_done()`, the last step of every function module), which freezes what init made
(later collections skip it: shorter pauses on every request) and collects again from
then on. Anywhere else (tests, the local stack, tools) nothing changes.

`init_done()` also checks that the function has every required setting (its tables and
queues: config.check_required), so one missing from its environment fails the init,
naming the variable, rather than a request later.
"""

import gc
import os

_paused = "AWS_LAMBDA_FUNCTION_NAME" in os.environ and "AWS_EXECUTION_ENV" in os.environ
if _paused:
    gc.disable()


def init_done() -> None:
    """The function's init is over: its required settings checked (config.MissingSetting
    if one is unset), its objects frozen, garbage collected again."""
    global _paused
    from portal_accounts.config import check_required

    check_required()
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
