"""Police.uk crime types with their approximate share of records (percent), for the generated
benchmark data: Leeds (the shared data README's volumes) and England and Wales."""

from __future__ import annotations

#: Share of Leeds records by police.uk crime type.
LEEDS: dict[str, float] = {
    "Anti-social behaviour": 8.0, "Violence and sexual offences": 38.0, "Public order": 10.0,
    "Criminal damage and arson": 8.0, "Shoplifting": 7.0, "Other theft": 7.0, "Vehicle crime": 6.0,
    "Burglary": 5.0, "Drugs": 2.0, "Theft from the person": 2.0, "Robbery": 1.4,
    "Possession of weapons": 0.9, "Bicycle theft": 1.0, "Other crime": 3.7,
}

#: Share of records in England and Wales by police.uk crime type.
NATIONAL: dict[str, float] = {
    "Anti-social behaviour": 17.0, "Violence and sexual offences": 34.0, "Public order": 9.0,
    "Criminal damage and arson": 8.0, "Shoplifting": 7.0, "Other theft": 7.0, "Vehicle crime": 6.0,
    "Burglary": 4.5, "Drugs": 2.5, "Theft from the person": 1.5, "Robbery": 1.2,
    "Possession of weapons": 0.8, "Bicycle theft": 1.0, "Other crime": 0.5,
}
