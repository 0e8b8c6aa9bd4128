def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The schemathesis run's figures at the end of the output, passed or failed."""
    from tests.fuzz.test_schemathesis import FIGURES

    for line in config.stash.get(FIGURES, []):
        terminalreporter.write_line(line)
