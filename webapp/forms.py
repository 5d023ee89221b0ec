"""The HTML forms (Flask-WTF: every one carries a CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from webapp.db import ROLES


def _choices(pairs):
    """(value, label) pairs in the form this WTForms wants (`SelectChoice` from 3.3 on)."""
    try:
        from wtforms.fields.choices import SelectChoice
    except ImportError:  # WTForms before 3.3 takes the tuples
        return list(pairs)
    return [SelectChoice(value, label) for value, label in pairs]


CATEGORY_CHOICES = _choices([("asb", "Anti-social behaviour"),
                    ("serious_violence", "Serious violence (proxy)"),
                    ("all", "All incidents")])
PLAN_CATEGORY_CHOICES = _choices([("asb", "Anti-social behaviour"),
                         ("serious_violence", "Serious violence (proxy)"),
                         ("both", "Both")])


class LoginForm(FlaskForm):
    username = StringField("User name", validators=[DataRequired(), Length(max=80)],
                           render_kw={"autocomplete": "username", "autocapitalize": "none"})
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField("Log in")


class PasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired()],
                            render_kw={"autocomplete": "current-password"})
    new = PasswordField("New password", validators=[DataRequired(), Length(min=10, max=200)],
                        render_kw={"autocomplete": "new-password"})
    submit = SubmitField("Change password")


class TokenForm(FlaskForm):
    submit = SubmitField("Create a new API token")


class ActionForm(FlaskForm):
    """A form with nothing but its CSRF token (for buttons that post)."""


class PlanForm(FlaskForm):
    period = StringField("Period", validators=[DataRequired(), Length(max=40)],
                         description="An ISO week such as 2025-W23, or a month such as 2025-06.")
    category = SelectField("Hotspots of", choices=PLAN_CATEGORY_CHOICES, default="asb")
    teams = SelectMultipleField("Teams on shift", choices=[], validate_choice=False,
                                widget=ListWidget(prefix_label=False),
                                option_widget=CheckboxInput(),
                                description="Each team patrols its own designated hotspots, then "
                                            "the top hotspot cells of its home wards.")
    date = DateField("Date of the shift", validators=[Optional()])
    shift_start = StringField("Shift starts", validators=[
        DataRequired(), Regexp(r"^([01]?\d|2[0-3]):[0-5]\d$", message="Use HH:MM, such as 16:00.")],
        default="16:00")
    shift_min = IntegerField("Shift (minutes)", validators=[DataRequired(), NumberRange(15, 720)],
                             default=240)
    dwell_min = DecimalField("Dwell per stop (minutes)", places=1,
                             validators=[DataRequired(), NumberRange(10, 16)], default=15,
                             description="The Koper curve: 10 to 16 minutes, 15 by default.")
    mode = SelectField("Patrol mode", choices=_choices([("", "Each team's own"), ("drive", "Vehicle"),
                                                        ("walk", "On foot")]), default="")
    stops_per_ward = IntegerField("Candidate stops per ward",
                                  validators=[Optional(), NumberRange(1, 50)], default=15)
    any_ward = BooleanField("Let teams patrol outside their home wards", default=False)
    vary = BooleanField("Vary when designated hotspots are visited (a different order each shift)",
                        default=True)
    submit = SubmitField("Plan the patrols")


class SavePlanForm(FlaskForm):
    name = StringField("Plan name", validators=[Optional(), Length(max=200)])
    submit = SubmitField("Save and assign")


class UploadForm(FlaskForm):
    file = FileField("Incident file", validators=[FileRequired("Choose a file to upload.")],
                     description="A police.uk street-level CSV, the police.uk archive zip, a force "
                                 "export CSV, or GeoJSON/GeoPackage/GeoParquet points.")
    format = SelectField("Format", choices=_choices([("auto", "Work it out"), ("police.uk", "police.uk"),
                                                     ("force", "Force export"), ("geo", "Geo file")]),
                         default="auto")
    source = StringField("Source label", validators=[Optional(), Length(max=60)],
                         description="Stored with each incident; defaults to the format's name.")
    id_col = StringField("Id column", validators=[Optional(), Length(max=80)])
    datetime_col = StringField("Date-time column", validators=[Optional(), Length(max=80)])
    type_col = StringField("Type column", validators=[Optional(), Length(max=80)])
    x_col = StringField("Easting or longitude column", validators=[Optional(), Length(max=80)])
    y_col = StringField("Northing or latitude column", validators=[Optional(), Length(max=80)])
    crs = SelectField("Coordinates", choices=_choices([("", "Work it out"),
                                       ("EPSG:27700", "EPSG:27700 (easting/northing)"),
                                       ("EPSG:4326", "EPSG:4326 (longitude/latitude)")]),
                      default="", validators=[Optional()])
    month_first = BooleanField("Dates are month-first (US)")
    dry_run = BooleanField("Check only; store nothing")
    submit = SubmitField("Upload")


class NewUserForm(FlaskForm):
    username = StringField("User name", validators=[
        DataRequired(), Length(min=2, max=80),
        Regexp(r"^[A-Za-z0-9._@-]+$", message="Letters, digits and . _ @ - only.")])
    role = SelectField("Role", choices=_choices((r, r) for r in ROLES), default="viewer")
    team = StringField("Team", validators=[Optional(), Length(max=120)],
                       description="The patrol team a guardian belongs to (for plan assignments).")
    submit = SubmitField("Add user")


class UserEditForm(FlaskForm):
    role = SelectField("Role", choices=_choices((r, r) for r in ROLES))
    team = StringField("Team", validators=[Optional(), Length(max=120)])
    active = BooleanField("Active")
    submit = SubmitField("Save")

