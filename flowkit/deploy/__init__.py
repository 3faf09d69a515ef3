"""Deploy layer: every call flowkit makes to a Kubernetes cluster, through the official ``kubernetes`` client.

Modules, one job each (the kubernetes client is imported inside the functions, so importing them is cheap):

- `flowkit.deploy.config`: kubeconfig or in-cluster configuration → an `ApiClientFactory`; the default namespace.
- `flowkit.deploy.templates`: create-or-replace the WorkflowTemplate and CronWorkflow with strict field validation
  (`deploy_flow`), delete them (`delete_flow`).
- `flowkit.deploy.runs`: submit a Workflow from the template (`submit_workflow`), list its runs (`list_runs`).
- `flowkit.deploy.upload`: write code packages on the datastore PVC through a helper pod (`upload_files`).
- `flowkit.deploy.errors`: `DeployError` and the translation of API failures into messages a user can act on.
- `flowkit.deploy.resources`: the Argo resource kinds and their name limits.
"""
