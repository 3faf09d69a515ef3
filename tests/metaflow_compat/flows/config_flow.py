"""A flow configured by a Config file, with a parameter default and a decorator computed from it."""

from flowkit import Config, FlowSpec, Parameter, config_expr, resources, step


class ConfigFlow(FlowSpec):
    config = Config("config", default="train_config.json", help="Training settings.")
    depth = Parameter("depth", default=config_expr("config.model.depth"))

    @resources(cpu=config_expr("config.resources.cpu"))
    @step
    def start(self):
        self.learning_rate = self.config.model.learning_rate
        self.next(self.end)

    @step
    def end(self):
        self.summary = {
            "name": self.config["name"],
            "depth": self.depth,
            "learning_rate": self.learning_rate,
            "layers": [layer.units for layer in self.config.model.layers],
        }


if __name__ == "__main__":
    ConfigFlow()
