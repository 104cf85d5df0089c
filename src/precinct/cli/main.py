"""The ``precinct`` command: database, imports, incidents, units, users, KPIs, the server and the demo. The commands
live in the modules beside this one, by theme; this file puts them together, in the order ``precinct --help`` lists
them."""

from __future__ import annotations

import typer

from precinct.cli import audit, figures, imports, records, run, users

app = typer.Typer(help="precinct: the police station and the command centre above it.", no_args_is_help=True)
app.command("kpi")(figures.kpi)
app.command("coverage")(figures.coverage_command)
app.command("retention")(audit.retention)
app.command("serve")(run.serve)
app.command("worker")(run.worker)
app.command("demo")(run.demo)
app.command("simulate")(run.simulate)
app.add_typer(run.db_app, name="db")
app.add_typer(imports.import_app, name="import")
app.add_typer(records.incidents_app, name="incidents")
app.add_typer(records.units_app, name="units")
app.add_typer(records.catalogue_app, name="catalogue")
app.add_typer(records.orgs_app, name="orgs")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(users.users_app, name="users")


if __name__ == "__main__":  # the demo starts the simulator as ``python -m precinct.cli.main simulate``
    app()
