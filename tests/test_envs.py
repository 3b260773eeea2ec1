"""Static check that every rule's conda env provides what the rule's script imports.

Conda cannot build environments on the CI machines (its channels are out of reach), so instead
of creating the envs this test reads them: for each rule it takes the conda env file and the
script the rule runs, follows the script's imports through the package (and through packages
the envs install with --no-deps, whose own imports are then ours to provide), and checks that
every third-party module found is provided by the env: a conda dependency, a pip entry, or a
`pip install` in the env's post-deploy script. The rules come from Snakemake itself (its API,
run in a subprocess), so an added rule or env is checked without touching this file.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PROJECT_PACKAGE = "darts_bohb"
PROJECT_DISTRIBUTION = "darts-bohb"

# Import name -> the conda-forge or PyPI names that provide it; a module not listed here is
# provided by the package of the same (lower-case) name.
MODULE_PROVIDERS: dict[str, tuple[str, ...]] = {
    "torch": ("torch", "pytorch", "pytorch-cpu", "pytorch-gpu"),
    "sklearn": ("scikit-learn",),
    "skimage": ("scikit-image",),
    "yaml": ("pyyaml",),
    "PIL": ("pillow",),
    "ConfigSpace": ("configspace",),
    "matplotlib": ("matplotlib-base", "matplotlib"),
    "mpl_toolkits": ("matplotlib-base", "matplotlib"),
    "seaborn": ("seaborn-base", "seaborn"),
    "dateutil": ("python-dateutil",),
    PROJECT_PACKAGE: (PROJECT_DISTRIBUTION,),  # installed by the post-deploy script (pip install -e)
}
STDLIB = set(sys.stdlib_module_names) | {"__future__"}


def normalise(name: str) -> str:
    """Package names compare like pip and conda compare them: case and -_. do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def providers(module: str) -> tuple[str, ...]:
    return tuple(normalise(name) for name in MODULE_PROVIDERS.get(module, (module,)))


# ---------------------------------------------------------------------------------------------
# What an env provides


@dataclass
class EnvContents:
    """The packages an env file (plus its post-deploy script) puts into the environment."""

    path: Path
    channels: list[str]
    conda: dict[str, str]  # name -> the spec as written
    pip: dict[str, str]
    post_deploy: set[str] = field(default_factory=set)
    no_deps: set[str] = field(default_factory=set)  # installed without their dependencies
    installs_project: bool = False  # the project itself, editable, by the post-deploy script

    @property
    def provided(self) -> set[str]:
        names = set(self.conda) | set(self.pip) | self.post_deploy
        return names | {normalise(PROJECT_DISTRIBUTION)} if self.installs_project else names


def conda_name(spec: str) -> str:
    return normalise(re.split(r"[\s=<>!~]", spec.split("::")[-1], maxsplit=1)[0])


def pip_name(requirement: str) -> str:
    return normalise(re.split(r"[\s\[=<>!~;]", requirement, maxsplit=1)[0])


def read_env(path: Path) -> EnvContents:
    data = yaml.safe_load(path.read_text())
    conda: dict[str, str] = {}
    pip: dict[str, str] = {}
    for entry in data.get("dependencies", []):
        if isinstance(entry, dict):
            for requirement in entry.get("pip", []):
                if not requirement.startswith("-"):
                    pip[pip_name(requirement)] = requirement
        else:
            conda[conda_name(str(entry))] = str(entry)
    env = EnvContents(path=path, channels=list(data.get("channels", [])), conda=conda, pip=pip)
    post_deploy = path.with_name(path.stem + ".post-deploy.sh")
    if post_deploy.is_file():
        read_post_deploy(post_deploy, env)
    return env


def read_post_deploy(script: Path, env: EnvContents) -> None:
    """Collect what the script's `pip install` lines install; `-e PATH` is the project itself."""
    for line in script.read_text().splitlines():
        command = line.split("#", 1)[0]
        if not re.search(r"\bpip install\b", command):
            continue
        words = shlex.split(command.split("pip install", 1)[1])
        without_deps = "--no-deps" in words
        editable_next = False
        for word in words:
            if editable_next:
                env.installs_project = True
                editable_next = False
            elif word in ("-e", "--editable"):
                editable_next = True
            elif not word.startswith("-"):
                name = normalise(re.split(r"[\[=<>!~]", word, maxsplit=1)[0])
                env.post_deploy.add(name)
                if without_deps:
                    env.no_deps.add(name)


# ---------------------------------------------------------------------------------------------
# What a script needs


@dataclass(frozen=True)
class Need:
    module: str  # top-level third-party module, as imported
    importer: Path  # the first file found importing it


class ImportTracer:
    """Follows imports from a script through the modules whose source we can read: the project
    package, modules beside the script, and packages installed without their dependencies."""

    def __init__(self, script: Path, followed_distributions: set[str]):
        self.script = script
        self.roots = {PROJECT_PACKAGE: REPO / PROJECT_PACKAGE}
        for distribution in followed_distributions:
            module = distribution.replace("-", "_")
            spec = importlib.util.find_spec(module)
            if spec is None or not spec.submodule_search_locations:
                raise AssertionError(
                    f"{distribution} is installed with --no-deps by an env's post-deploy script, so its "
                    f"imports must be checked too, but it is not importable here; install it as the README says"
                )
            self.roots[module] = Path(list(spec.submodule_search_locations)[0])

    def needs(self) -> dict[str, Need]:
        """Each top-level module the script may import that the env must install: third-party
        modules, and the followed packages themselves (whose source is read, not installed)."""
        needs: dict[str, Need] = {}
        seen: set[Path] = set()
        pending = [self.script]
        while pending:
            source = pending.pop()
            if source in seen:
                continue
            seen.add(source)
            for module in self._imported_modules(source):
                top = module.split(".")[0]
                if top in STDLIB or not top:
                    continue
                files = self._source_files(module)
                pending.extend(files)
                local_helper = top not in self.roots and bool(files)
                if not local_helper:
                    needs.setdefault(top, Need(top, source))
        return needs

    def _imported_modules(self, source: Path) -> list[str]:
        tree = ast.parse(source.read_text(), filename=str(source))
        modules = []
        for node in self._import_nodes(tree, source):
            if isinstance(node, ast.Import):
                modules.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = self._absolute(node, source)
                modules.append(base)
                # `from package import name` may name a submodule.
                modules.extend(f"{base}.{alias.name}" for alias in node.names
                               if self._module_file(f"{base}.{alias.name}"))
        return modules

    def _import_nodes(self, tree: ast.AST, source: Path) -> list[ast.Import | ast.ImportFrom]:
        """In our own code every import counts, also one inside a function: a lazy import still
        runs in the env. In a package installed --no-deps only what importing it runs counts;
        its functions may import optional extras that the workflow never calls."""
        ours = not any(source.is_relative_to(root) for name, root in self.roots.items()
                       if name != PROJECT_PACKAGE)
        found, pending = [], [tree]
        while pending:
            node = pending.pop()
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append(node)
            if ours or not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                pending.extend(ast.iter_child_nodes(node))
        return found

    def _absolute(self, node: ast.ImportFrom, source: Path) -> str:
        if node.level == 0:
            return node.module or ""
        package = self._module_name(source).split(".")
        if source.name != "__init__.py":
            package = package[:-1]
        package = package[: len(package) - (node.level - 1)]
        return ".".join(package + ([node.module] if node.module else []))

    def _module_name(self, source: Path) -> str:
        for name, root in self.roots.items():
            if source.is_relative_to(root):
                parts = source.relative_to(root).with_suffix("").parts
                return ".".join((name, *[p for p in parts if p != "__init__"]))
        return source.stem

    def _module_file(self, module: str) -> Path | None:
        parts = module.split(".")
        if parts[0] in self.roots:
            base = self.roots[parts[0]].joinpath(*parts[1:])
        elif len(parts) == 1 and parts[0] not in STDLIB:
            base = self.script.parent / parts[0]  # a helper module beside the script
        else:
            return None
        for candidate in (base / "__init__.py", base.with_suffix(".py")):
            if candidate.is_file():
                return candidate
        return None

    def _source_files(self, module: str) -> list[Path]:
        """The files that importing `module` runs: each package's __init__ and the module."""
        parts = module.split(".")
        files = [self._module_file(".".join(parts[:i])) for i in range(1, len(parts) + 1)]
        return [f for f in files if f is not None] if files[-1] is not None else []


def missing_from_env(script: Path, env: EnvContents) -> list[Need]:
    needs = ImportTracer(script, env.no_deps).needs()
    return [need for module, need in sorted(needs.items()) if not set(providers(module)) & env.provided]


# ---------------------------------------------------------------------------------------------
# The rules, as Snakemake sees them

RULES_PROBE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import OutputSettings, Quietness, ResourceSettings

    rules = []
    with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
        workflow = api.workflow(resource_settings=ResourceSettings(), snakefile=Path("Snakefile"),
                                workdir=Path("."))._workflow
        for rule in workflow.rules:
            base = Path(rule.basedir)
            scripts = [value for _, value in rule.params.items()
                       if isinstance(value, str) and value.endswith(".py")] if rule.params else []
            if rule.script:
                scripts.append(str(base / rule.script))
            rules.append({
                "name": rule.name,
                "runs": not rule.norun,
                "conda": str((base / rule.conda_env).resolve()) if isinstance(rule.conda_env, str) else None,
                "scripts": [str(Path(s).resolve()) for s in scripts],
            })
    print("RULES=" + json.dumps(rules))
    """
)


@pytest.fixture(scope="module")
def workflow_rules() -> list[dict]:
    result = subprocess.run([sys.executable, "-c", RULES_PROBE], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    line = next((text for text in result.stdout.splitlines() if text.startswith("RULES=")), None)
    assert result.returncode == 0 and line, f"Snakemake could not load the workflow:\n{result.stderr[-3000:]}"
    return json.loads(line.removeprefix("RULES="))


def test_every_rule_that_runs_something_has_an_existing_env_file(workflow_rules):
    running = [rule for rule in workflow_rules if rule["runs"]]
    assert running, "Snakemake reported no rule that runs anything"
    problems = [f"rule {rule['name']}: no conda env" if not rule["conda"] else
                f"rule {rule['name']}: env file {rule['conda']} does not exist"
                for rule in running if not rule["conda"] or not Path(rule["conda"]).is_file()]
    assert not problems, "\n".join(problems)


def test_every_rule_script_finds_its_imports_in_the_rule_env(workflow_rules):
    problems = []
    checked = 0
    for rule in workflow_rules:
        if not rule["runs"] or not rule["conda"] or not Path(rule["conda"]).is_file():
            continue
        env = read_env(Path(rule["conda"]))
        env_name = Path(rule["conda"]).relative_to(REPO)
        for script in map(Path, rule["scripts"]):
            checked += 1
            if not script.is_file():
                problems.append(f"rule {rule['name']}: its script {script} does not exist")
                continue
            for need in missing_from_env(script, env):
                problems.append(
                    f"rule {rule['name']}: {script.relative_to(REPO)} imports '{need.module}' "
                    f"(in {need.importer.relative_to(REPO) if need.importer.is_relative_to(REPO) else need.importer}) "
                    f"but {env_name} provides none of {list(providers(need.module))}"
                )
    assert checked, "no rule script was found to check"
    assert not problems, "\n".join(problems)


def test_env_files_use_conda_forge_and_pin_every_package(workflow_rules):
    env_files = sorted({Path(rule["conda"]) for rule in workflow_rules if rule["conda"]})
    problems = []
    for path in env_files:
        env = read_env(path)
        if env.channels != ["conda-forge", "nodefaults"]:
            problems.append(f"{path.name}: channels are {env.channels}, expected [conda-forge, nodefaults]")
        problems += [f"{path.name}: '{spec}' has no version" for spec in env.conda.values()
                     if "=" not in spec]
        problems += [f"{path.name}: pip '{spec}' is not pinned with ==" for spec in env.pip.values()
                     if "==" not in spec]
    assert env_files and not problems, "\n".join(problems)


# The conda-forge names of packages whose PyPI name differs; versions compare across both.
CONDA_TO_PYPI = {"pytorch": "torch", "pytorch-cpu": "torch", "pytorch-gpu": "torch",
                 "matplotlib-base": "matplotlib", "seaborn-base": "seaborn"}


def pinned_requirements() -> dict[str, str]:
    """requirements.txt: the versions every test ran with, by normalised PyPI name."""
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement:
            assert "==" in requirement, f"requirements.txt: '{requirement}' is not pinned with =="
            name, version = requirement.split("==", 1)
            pins[normalise(name)] = version.strip()
    return pins


def env_versions(env: EnvContents) -> dict[str, str]:
    """Every pinned package of an env file and its post-deploy script, by normalised PyPI name."""
    versions = {}
    for name, spec in env.conda.items():
        if "=" in spec and name not in ("python", "pip"):
            versions[CONDA_TO_PYPI.get(name, name)] = re.split(r"=+", spec, maxsplit=1)[1].split("=")[0].strip()
    for name, spec in env.pip.items():
        versions[name] = spec.split("==", 1)[1].strip()
    return versions


def version_drift(env: EnvContents, tested: dict[str, str]) -> list[str]:
    return [f"{env.path.name}: {name} {version}, but requirements.txt (the tested set) pins {tested[name]}"
            for name, version in sorted(env_versions(env).items()) if name in tested and tested[name] != version]


def test_env_files_pin_the_tested_versions(workflow_rules):
    """One source of truth: a package that an env shares with requirements.txt has its version."""
    tested = pinned_requirements()
    env_files = sorted({Path(rule["conda"]) for rule in workflow_rules if rule["conda"]})
    problems = [problem for path in env_files for problem in version_drift(read_env(path), tested)]
    assert env_files and not problems, "\n".join(problems)


def test_medmnist_is_pinned_alike_in_the_readme_ci_and_the_envs():
    readme = set(re.findall(r"medmnist==([\w.]+)", (REPO / "README.md").read_text()))
    ci = set(re.findall(r"medmnist==([\w.]+)", (REPO / ".ci" / "run").read_text()))
    post_deploy = set(re.findall(r"medmnist==([\w.]+)", (REPO / "envs" / "install-project.sh").read_text()))
    assert len(readme) == 1 and readme == ci == post_deploy


def test_drift_check_flags_a_changed_version(tmp_path):
    env_file = tmp_path / "x.yaml"
    env_file.write_text("channels: [conda-forge, nodefaults]\n"
                        "dependencies: [python=3.11, pip=25.2, pytorch=2.12.1, {pip: [pandas==3.0.3, smac==2.4.1]}]\n")
    tested = {"torch": "2.13.0", "pandas": "3.1.1", "smac": "2.4.1"}
    assert version_drift(read_env(env_file), tested) == [
        "x.yaml: pandas 3.0.3, but requirements.txt (the tested set) pins 3.1.1",
        "x.yaml: torch 2.12.1, but requirements.txt (the tested set) pins 2.13.0",
    ]


# ---------------------------------------------------------------------------------------------
# The checker itself catches what it is for


def copy_rule(tmp_path: Path, env_name: str, script_name: str) -> tuple[Path, Path]:
    """A rule's env file (with its post-deploy script) and script, copied for editing."""
    envs = tmp_path / "envs"
    envs.mkdir()
    for path in (REPO / "envs").glob(f"{env_name}.*"):
        shutil.copy2(path, envs / path.name)
    script = tmp_path / script_name
    shutil.copy2(REPO / "scripts" / script_name, script)
    return envs / f"{env_name}.yaml", script


def test_checker_flags_an_import_added_without_its_env_entry(tmp_path):
    env_file, script = copy_rule(tmp_path, "data", "download_dataset.py")
    assert missing_from_env(script, read_env(env_file)) == []

    script.write_text("import seaborn\n" + script.read_text())
    missing = missing_from_env(script, read_env(env_file))
    assert [need.module for need in missing] == ["seaborn"]

    env = yaml.safe_load(env_file.read_text())
    env["dependencies"].append("seaborn-base=0.13.2")
    env_file.write_text(yaml.safe_dump(env))
    assert missing_from_env(script, read_env(env_file)) == []


def drop_dependency(env_file: Path, name: str) -> None:
    """Remove a package from an env file, whether conda or its pip section installs it."""
    env = yaml.safe_load(env_file.read_text())
    kept = []
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            kept.append({"pip": [spec for spec in entry.get("pip", []) if pip_name(spec) != normalise(name)]})
        elif conda_name(entry) != name:
            kept.append(entry)
    env["dependencies"] = kept
    env_file.write_text(yaml.safe_dump(env))


def test_checker_follows_imports_through_the_package(tmp_path):
    env_file, script = copy_rule(tmp_path, "data", "download_dataset.py")
    script.write_text("from darts_bohb.metrics import classification_metrics\n")
    drop_dependency(env_file, "scikit-learn")
    missing = {need.module: need.importer for need in missing_from_env(script, read_env(env_file))}
    assert missing.get("sklearn") == REPO / "darts_bohb" / "metrics.py"


def test_checker_follows_imports_of_packages_installed_without_dependencies(tmp_path):
    # medmnist comes --no-deps; importing medmnist.info runs medmnist/__init__, which imports
    # its evaluator and so pandas: the env must provide pandas itself.
    env_file, script = copy_rule(tmp_path, "data", "download_dataset.py")
    script.write_text("from medmnist.info import INFO\n")
    drop_dependency(env_file, "pandas")
    missing = {need.module: need.importer for need in missing_from_env(script, read_env(env_file))}
    assert "pandas" in missing and "medmnist" in missing["pandas"].parts


def test_checker_reads_pip_installs_of_the_post_deploy_script(tmp_path):
    env_file = tmp_path / "x.yaml"
    env_file.write_text("channels: [conda-forge, nodefaults]\ndependencies: [python=3.11, pip=25]\n")
    (tmp_path / "x.post-deploy.sh").write_text(
        '#!/usr/bin/env bash\npython -m pip install --no-deps medmnist==3.0.2  # comment\n'
        'python -m pip install --no-deps -e "$source_dir"\n'
    )
    env = read_env(env_file)
    assert env.post_deploy == {"medmnist"} and env.no_deps == {"medmnist"} and env.installs_project
