"""mutmut's run for one module, started by tools/mutation.py inside the module's workspace:
mutation_run.py PATH TEST... -- MUTMUT-ARGS (run --max-children N, or show NAME). It narrows pyproject.toml's [tool.mutmut] to PATH and
its tests, then hands over to mutmut's own command line."""
import sys

from mutmut import configuration

path, rest = sys.argv[1], sys.argv[2:]
split = rest.index("--")
tests, command = rest[:split], rest[split + 1:]

settings = configuration._load_config()
settings.source_paths = [configuration.Path(path.split("/")[0])]
settings.resolved_mutated_source_paths = [configuration.Path.cwd().resolve() / "mutants" / p
                                          for p in settings.source_paths]
settings.only_mutate = [path]
settings.pytest_add_cli_args_test_selection = tests
configuration._config = settings

from mutmut.__main__ import cli  # noqa: E402  (mutmut reads its settings when imported)

if command[0] == "show-many":  # many diffs in one process (a process per mutant is slow)
    from mutmut.__main__ import find_mutant, get_diff_for_mutant, status_by_exit_code

    for name in command[1:]:
        found = find_mutant(name)
        print(f"# {name}: {status_by_exit_code[found.exit_code_by_key[name]]}")
        print(get_diff_for_mutant(name, path=found.path))
else:
    cli(command, standalone_mode=True)
