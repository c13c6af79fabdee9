"""The ``neurosim`` command line: the parser (:mod:`neurosim.cli.main`), shared argument
helpers (:mod:`neurosim.cli.args`) and one module per command."""
