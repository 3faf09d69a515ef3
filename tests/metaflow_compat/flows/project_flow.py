"""A @project flow in Metaflow's style: it records where it ran, as a flow choosing its output table would."""

from flowkit import FlowSpec, current, kubernetes, project, step


@kubernetes(image="python:3.12-slim")
@project(name="movie_stats")
class ProjectStatsFlow(FlowSpec):
    @step
    def start(self):
        self.seen_in_start = current.branch_name
        self.who = (current.username, current.namespace, sorted(current.tags))
        self.next(self.end)

    @step
    def end(self):
        self.project = current.project_name
        self.branch = current.branch_name
        self.production = current.is_production
        self.user_branch = current.is_user_branch
        self.full_name = current.project_flow_name
        self.table = "stats" if current.is_production else f"stats_{current.branch_name.replace('.', '_')}"


if __name__ == "__main__":
    ProjectStatsFlow()
