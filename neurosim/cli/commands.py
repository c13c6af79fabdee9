"""The commands of ``neurosim``: name -> (its module, its one-line help), in the order
``neurosim --help`` lists them. A command's module (and what it imports) is loaded only when that
command is parsed (:func:`neurosim.cli.main.build_parser`), so ``neurosim --help`` and
``neurosim hw describe`` do not import the simulator, the figures or the mapping tools."""

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("neurosim.cli.run", "simulate a model on a chip and write a report"),
    "validate": ("neurosim.cli.validate", "check hardware, mapping or model files"),
    "info": ("neurosim.cli.info", "describe a hardware, mapping or model file"),
    "train": ("neurosim.cli.train", "train a spiking MLP (layered BPTT or unlayered backprop) and export it to NIR"),
    "study": ("neurosim.cli.study", "layered vs unlayered models under sync and async execution"),
    "hw": ("neurosim.cli.hw", "inspect hardware descriptions"),
    "explore": ("neurosim.cli.explore", "sweep hardware parameters and mappings; table and Pareto plot"),
}
