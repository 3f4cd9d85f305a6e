"""Country codes for "where to watch": ISO 3166-1 alpha-2, and a country from a locale.

TMDB's watch providers are keyed by ISO 3166-1 alpha-2 codes, so that is what /country
accepts. The table below is the standard's officially assigned codes with short English
names (kept here rather than adding a dependency such as pycountry for one lookup; the
standard changes rarely: the last new code was South Sudan, SS, in 2011). "UK" is
accepted as GB, as people type it.

A platform's locale gives a default: Discord's ``interaction.locale`` ("en-US", "pt-BR",
"de") and Telegram's ``from_user.language_code`` ("de", "pt-br", "en"). A region in the
locale is the country; a bare language gives a country only where that language is
mostly one country's (``de`` -> DE, ``ja`` -> JP); English, Spanish, Arabic, Chinese and
the like say nothing about where someone lives, so they give no guess.
"""

from __future__ import annotations

_TABLE = """
AD Andorra|AE United Arab Emirates|AF Afghanistan|AG Antigua and Barbuda|AI Anguilla|AL Albania|
AM Armenia|AO Angola|AQ Antarctica|AR Argentina|AS American Samoa|AT Austria|AU Australia|AW Aruba|
AX Åland Islands|AZ Azerbaijan|BA Bosnia and Herzegovina|BB Barbados|BD Bangladesh|BE Belgium|
BF Burkina Faso|BG Bulgaria|BH Bahrain|BI Burundi|BJ Benin|BL Saint Barthélemy|BM Bermuda|
BN Brunei|BO Bolivia|BQ Caribbean Netherlands|BR Brazil|BS Bahamas|BT Bhutan|BV Bouvet Island|
BW Botswana|BY Belarus|BZ Belize|CA Canada|CC Cocos (Keeling) Islands|CD DR Congo|
CF Central African Republic|CG Congo|CH Switzerland|CI Côte d'Ivoire|CK Cook Islands|CL Chile|
CM Cameroon|CN China|CO Colombia|CR Costa Rica|CU Cuba|CV Cape Verde|CW Curaçao|
CX Christmas Island|CY Cyprus|CZ Czechia|DE Germany|DJ Djibouti|DK Denmark|DM Dominica|
DO Dominican Republic|DZ Algeria|EC Ecuador|EE Estonia|EG Egypt|EH Western Sahara|ER Eritrea|
ES Spain|ET Ethiopia|FI Finland|FJ Fiji|FK Falkland Islands|FM Micronesia|FO Faroe Islands|
FR France|GA Gabon|GB United Kingdom|GD Grenada|GE Georgia|GF French Guiana|GG Guernsey|GH Ghana|
GI Gibraltar|GL Greenland|GM Gambia|GN Guinea|GP Guadeloupe|GQ Equatorial Guinea|GR Greece|
GS South Georgia and the South Sandwich Islands|GT Guatemala|GU Guam|GW Guinea-Bissau|GY Guyana|
HK Hong Kong|HM Heard Island and McDonald Islands|HN Honduras|HR Croatia|HT Haiti|HU Hungary|
ID Indonesia|IE Ireland|IL Israel|IM Isle of Man|IN India|IO British Indian Ocean Territory|
IQ Iraq|IR Iran|IS Iceland|IT Italy|JE Jersey|JM Jamaica|JO Jordan|JP Japan|KE Kenya|
KG Kyrgyzstan|KH Cambodia|KI Kiribati|KM Comoros|KN Saint Kitts and Nevis|KP North Korea|
KR South Korea|KW Kuwait|KY Cayman Islands|KZ Kazakhstan|LA Laos|LB Lebanon|LC Saint Lucia|
LI Liechtenstein|LK Sri Lanka|LR Liberia|LS Lesotho|LT Lithuania|LU Luxembourg|LV Latvia|
LY Libya|MA Morocco|MC Monaco|MD Moldova|ME Montenegro|MF Saint Martin|MG Madagascar|
MH Marshall Islands|MK North Macedonia|ML Mali|MM Myanmar|MN Mongolia|MO Macao|
MP Northern Mariana Islands|MQ Martinique|MR Mauritania|MS Montserrat|MT Malta|MU Mauritius|
MV Maldives|MW Malawi|MX Mexico|MY Malaysia|MZ Mozambique|NA Namibia|NC New Caledonia|NE Niger|
NF Norfolk Island|NG Nigeria|NI Nicaragua|NL Netherlands|NO Norway|NP Nepal|NR Nauru|NU Niue|
NZ New Zealand|OM Oman|PA Panama|PE Peru|PF French Polynesia|PG Papua New Guinea|PH Philippines|
PK Pakistan|PL Poland|PM Saint Pierre and Miquelon|PN Pitcairn Islands|PR Puerto Rico|
PS Palestine|PT Portugal|PW Palau|PY Paraguay|QA Qatar|RE Réunion|RO Romania|RS Serbia|RU Russia|
RW Rwanda|SA Saudi Arabia|SB Solomon Islands|SC Seychelles|SD Sudan|SE Sweden|SG Singapore|
SH Saint Helena|SI Slovenia|SJ Svalbard and Jan Mayen|SK Slovakia|SL Sierra Leone|SM San Marino|
SN Senegal|SO Somalia|SR Suriname|SS South Sudan|ST São Tomé and Príncipe|SV El Salvador|
SX Sint Maarten|SY Syria|SZ Eswatini|TC Turks and Caicos Islands|TD Chad|
TF French Southern Territories|TG Togo|TH Thailand|TJ Tajikistan|TK Tokelau|TL Timor-Leste|
TM Turkmenistan|TN Tunisia|TO Tonga|TR Türkiye|TT Trinidad and Tobago|TV Tuvalu|TW Taiwan|
TZ Tanzania|UA Ukraine|UG Uganda|UM U.S. Minor Outlying Islands|US United States|UY Uruguay|
UZ Uzbekistan|VA Vatican City|VC Saint Vincent and the Grenadines|VE Venezuela|
VG British Virgin Islands|VI U.S. Virgin Islands|VN Vietnam|VU Vanuatu|WF Wallis and Futuna|
WS Samoa|YE Yemen|YT Mayotte|ZA South Africa|ZM Zambia|ZW Zimbabwe
"""
COUNTRIES: dict[str, str] = dict(
    (entry.strip()[:2], entry.strip()[3:]) for entry in _TABLE.replace("\n", "").split("|"))
ALIASES = {"UK": "GB"}

# A bare language that is mostly one country's (see the module docstring).
LANGUAGE_COUNTRY = {
    "de": "DE", "fr": "FR", "it": "IT", "ja": "JP", "ko": "KR", "pl": "PL", "nl": "NL",
    "sv": "SE", "da": "DK", "nb": "NO", "nn": "NO", "no": "NO", "fi": "FI", "tr": "TR",
    "uk": "UA", "cs": "CZ", "el": "GR", "hu": "HU", "ro": "RO", "he": "IL", "th": "TH",
    "vi": "VN", "id": "ID", "bg": "BG", "hr": "HR", "lt": "LT", "lv": "LV", "et": "EE",
    "sk": "SK", "sl": "SI", "is": "IS", "ru": "RU", "hi": "IN", "ms": "MY",
}


def country_code(text: str) -> str | None:
    """The ISO 3166-1 alpha-2 code ``text`` names ("de", " DE ", "uk" -> "GB"), else None."""
    code = (text or "").strip().upper()
    code = ALIASES.get(code, code)
    return code if code in COUNTRIES else None


def country_name(code: str) -> str:
    return COUNTRIES.get(code, code)


# Names said with "the" in a sentence ("in the United States")
_THE = {"AE", "BS", "CD", "CF", "CG", "DO", "FK", "FO", "GB", "GM", "KM", "KY", "MH", "MV", "NL",
        "PH", "SB", "SC", "TC", "US", "VA", "VG", "VI", "UM"}


def country_phrase(code: str) -> str:
    """"the United States", "Germany": the name as it reads after "in"."""
    return ("the " if code in _THE else "") + country_name(code)


def country_from_locale(locale: str) -> str | None:
    """"pt-BR" -> "BR", "en_GB" -> "GB", "de" -> "DE", "en" -> None (no guess)."""
    parts = (locale or "").replace("_", "-").split("-")
    if len(parts) >= 2:
        region = country_code(parts[-1]) if len(parts[-1]) == 2 else None
        if region:
            return region
    return LANGUAGE_COUNTRY.get(parts[0].lower())
