"""Metaflow's environment decorators on one flow: a conda base, a step's own conda libraries and a pypi step."""

from flowkit import FlowSpec, conda, conda_base, pypi, step


@conda_base(python="3.11", libraries={"numpy": "1.26.4"})
class EnvironmentsFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.features)

    @conda(libraries={"pandas": "2.2.2"})
    @step
    def features(self):
        self.next(self.train)

    @pypi(python="3.11", packages={"scikit-learn": "1.5.0", "requests": ">=2.31"})
    @step
    def train(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EnvironmentsFlow()
