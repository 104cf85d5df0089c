"""Every table of every domain, gathered on one metadata for migrations and schema checks."""

from __future__ import annotations

from precinct.domains.access import models as access_models
from precinct.domains.identity import models as identity_models
from precinct.domains.incidents import models as incidents_models
from precinct.domains.orgs import models as orgs_models
from precinct.domains.roads import models as roads_models
from precinct.domains.units import models as units_models
from precinct.platform import audit, events, reference
from precinct.platform.db import Base

metadata = Base.metadata
MODEL_MODULES = (
    orgs_models,
    units_models,
    incidents_models,
    roads_models,
    identity_models,
    access_models,
    events,
    reference,
    audit,
)
