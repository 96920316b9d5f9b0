#!/bin/sh
# Convert an OpenLDAP .schema file into the cn=config LDIF form (cn=NAME,cn=schema,cn=config).
# The .schema file is the single source of truth; the .ldif is generated from it at build time.
#   schema2ldif.sh IN.schema NAME > OUT.ldif
set -eu
in=$1
name=$2
printf '# AUTO-GENERATED from %s by schema2ldif.sh; edit the .schema file instead.\n' "$(basename "$in")"
printf 'dn: cn=%s,cn=schema,cn=config\nobjectClass: olcSchemaConfig\ncn: %s\n' "$name" "$name"
# Each definition starts at column 0 with a keyword; continuation lines start with white space.
awk '
    /^[ \t]*#/ || /^[ \t]*$/ { next }
    /^[ \t]/ { sub(/^[ \t]+/, ""); printf "  %s\n", $0; next }
    {
        kw = tolower($1)
        if (kw == "objectidentifier") key = "olcObjectIdentifier"
        else if (kw == "attributetype" || kw == "attributetypes") key = "olcAttributeTypes"
        else if (kw == "objectclass" || kw == "objectclasses") key = "olcObjectClasses"
        else { printf "schema2ldif: unknown keyword %s\n", $1 > "/dev/stderr"; exit 1 }
        sub(/^[^ \t]+[ \t]+/, "")
        printf "%s: %s\n", key, $0
    }' "$in"
