# Shared by scripts/slapd-headers.sh and scripts/slapd26.sh (sourced, not run): where the
# cache lives, the configure options that shape slapd's ABI as Debian builds it, and a private
# apt configuration with deb-src entries derived from the machine's own deb entries.
#
# No archive host name is written anywhere by this project: the deb-src entries carry the URIs,
# components, Signed-By and other options of the machine's existing entries. They go into a
# private apt configuration under the cache directory (sources, lists and package cache of its
# own), used through APT_CONFIG for `apt-get update` and `apt-get source` only: the machine's
# apt sources and lists are never changed, and apt never sees a binary-package entry there, so
# nothing can be installed from it.

DMG_CACHE=${DMG_CACHE:-/var/cache/dynmailgroup}

# Configure options of OpenLDAP that matter for the layout of slapd's structures, as Debian's
# openldap package uses them (debian/rules); the headers a module is built against must come
# from a tree configured this way.
OPENLDAP_ABI_OPTIONS="--enable-modules --enable-slapi --enable-dynacl --enable-aci
 --with-tls=gnutls --with-cyrus-sasl --with-threads"

# dmg_private_deb_src DIR [FROM TO]
#   Writes DIR/apt.conf with deb-src entries derived from every deb entry of the machine's apt
#   sources (one-line .list and deb822 .sources), exports APT_CONFIG=DIR/apt.conf and runs
#   `apt-get update` on it. With FROM and TO, only the entries of suite FROM are used, with the
#   suite changed to TO (e.g. bookworm -> trixie). Non-zero when there is no entry to derive.
dmg_private_deb_src() {
    dir=$1 from=${2:-} to=${3:-}
    mkdir -p "$dir/lists/partial" "$dir/cache" "$dir/sources.list.d"
    rm -f "$dir/sources.list.d/"*
    # one-line entries "deb [options] URI SUITE COMPONENTS..."
    : > "$dir/sources.list"
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v from="$from" -v to="$to" '
            $1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                if (from != "") { if ($(i + 1) != from) next; $(i + 1) = to }
                $1 = "deb-src"; print
            }' "$f" >> "$dir/sources.list"
    done
    # deb822 stanzas whose Types include "deb" (and whose Suites include FROM): the same
    # fields, with "Types: deb-src" (and "Suites: TO")
    : > "$dir/derived.sources"
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v from="$from" -v to="$to" '
            BEGIN { RS = ""; FS = "\n" }
            {
                types = 0; suites = (from == ""); enabled = 1; out = ""
                for (i = 1; i <= NF; i++) {
                    line = $i
                    if (line ~ /^#/) continue
                    if (line ~ /^[Tt]ypes:/) {
                        n = split(substr(line, 7), w, /[ \t]+/)
                        for (j = 1; j <= n; j++) if (w[j] == "deb") types = 1
                        line = "Types: deb-src"
                    } else if (from != "" && line ~ /^[Ss]uites:/) {
                        n = split(substr(line, 8), w, /[ \t]+/)
                        for (j = 1; j <= n; j++) if (w[j] == from) suites = 1
                        line = "Suites: " to
                    } else if (line ~ /^[Ee]nabled:[ \t]*(no|false|0)[ \t]*$/) {
                        enabled = 0
                    }
                    out = out line "\n"
                }
                if (types && suites && enabled) printf "%s\n", out
            }' "$f" >> "$dir/derived.sources"
    done
    if [ ! -s "$dir/sources.list" ] && [ ! -s "$dir/derived.sources" ]; then
        echo "no deb entry${from:+ for suite $from} in the apt sources to derive a deb-src entry from" >&2
        return 1
    fi
    [ -s "$dir/derived.sources" ] && cp "$dir/derived.sources" "$dir/sources.list.d/derived.sources"
    cat > "$dir/apt.conf" <<EOC
Dir::Etc::SourceList "$dir/sources.list";
Dir::Etc::SourceParts "$dir/sources.list.d";
Dir::State::Lists "$dir/lists";
Dir::Cache "$dir/cache";
APT::Sandbox::User "root";
EOC
    APT_CONFIG="$dir/apt.conf"
    export APT_CONFIG
    apt-get update -q >&2
}
