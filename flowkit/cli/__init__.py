"""flowkit's command line: `python myflow.py COMMAND`, `MyFlow.main()` and the `flowkit` console script.

The CLI is thin: it parses arguments and calls the layers below. Every command module imports only click at module
level, so `python myflow.py run` does not pay for Argo, Kubernetes or conda machinery it does not use.
"""
