"""An import-linter contract: each app is used by the others only through its public face.

``pyproject.toml`` lists, per app, the modules (or sub-packages) that form its face — ``actions``
(every write), ``queries`` (every read), ``api`` (the router a door mounts) and the few others an app
documents. A module of another app that imports anything else of it breaks the contract; a module
added to an app is private until the app puts it in its face. Imports inside ``if TYPE_CHECKING:``
are not counted (naming a type is not using it; see ``exclude_type_checking_imports``).

Registered with ``contract_types = ["public_faces: importlinter_faces.PublicFacesContract"]``;
``make lint`` puts ``tools/`` on the path.
"""

from __future__ import annotations

from importlinter import Contract, ContractCheck, fields, output


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


class PublicFacesContract(Contract):
    type_name = "public_faces"

    # one line per app: "cityloop.hotline: actions queries published"
    faces = fields.ListField(subfield=fields.StringField())
    # modules that may reach into any app: the project's wiring (settings, urls)
    exempt = fields.ListField(subfield=fields.StringField(), required=False, default=[])

    def _faces(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for line in self.faces:  # type: ignore[attr-defined]
            app, _sep, names = str(line).partition(":")
            app = app.strip()
            found[app] = [f"{app}.{name}" for name in names.split()]
        return found

    def check(self, graph, verbose: bool) -> ContractCheck:
        faces = self._faces()
        exempt = [str(m) for m in self.exempt]  # type: ignore[attr-defined]
        broken: list[dict] = []
        for app, face in faces.items():
            for module in sorted(graph.find_descendants(app)):
                if any(_within(module, public) for public in face):
                    continue
                for importer in sorted(graph.find_modules_that_directly_import(module)):
                    if _within(importer, app) or any(_within(importer, w) for w in exempt):
                        continue
                    lines = sorted(
                        d["line_number"] for d in graph.get_import_details(importer=importer, imported=module)
                    )
                    broken.append({"importer": importer, "imported": module, "app": app, "lines": lines})
        return ContractCheck(kept=not broken, metadata={"broken": broken, "faces": faces})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for item in check.metadata["broken"]:
            where = ", ".join(f"l.{n}" for n in item["lines"])
            output.print_error(f"{item['importer']} -> {item['imported']} ({where})")
            face = ", ".join(m.rsplit(".", 1)[-1] for m in check.metadata["faces"][item["app"]])
            output.print(f"    {item['app']}'s face is: {face}")
            output.new_line()
