#!/usr/bin/env bash
# Every way to spell ".git" on NTFS and HFS+ (trailing dots and spaces, the
# short name git~1, ':' streams, '\'-separated parts, Unicode
# default-ignorable code points) is refused by rgs-plan | rgs-apply, checked
# against the real git: each generated name that `git update-index` refuses
# with core.protectNTFS and core.protectHFS is refused by the sync, the sync
# refuses exactly the names the rule in rgs_path.c describes (an independent
# Perl reading of it, ignorables from Perl's Unicode tables), everything it
# did write is accepted by `git add`, and nothing reaches .git.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../plan/wt-lib.sh"

DD=$RGS_TMP/d; wt_init "$DD"
dotgit_before=$(cd "$REPO/.git" && find . -printf '%y %p %s\n' | LC_ALL=C sort | sha256sum)

# --- the names: stems x tails, alone and after "a\" ------------------------------
perl -CS -e '
  my @stem = (".git", ".GIT", ".Git", "git~1", "GIT~1", "gIt~1", ".gi", ".gitx", "git~2", "git~",
              ".git~1", "\x{feff}.git", ".g\x{200c}it", ".g\x{ad}it", "g\x{200b}it~1", " .git",
              ".gitmodules", "GITMOD~1", ".\x{147}it", ".g\x{131}t", ".g\x{e0001}it");
  my @tail = ("", ".", " ", ". .", " . ", "...", ":", ":x", "::\$INDEX_ALLOCATION", "\\", "\\x",
              "x", "~1", "\x{200c}", "\x{200c}.", "\x{ad}", ".x", " x", "\x{fe0f}:s");
  my %seen;
  for my $w ("", "a\\") { for my $s (@stem) { for my $t (@tail) {
    my $n = "$w$s$t"; print "$n\n" unless $seen{$n}++ } } }' >"$RGS_TMP/names"
total=$(wc -l <"$RGS_TMP/names")

# --- what git itself refuses -------------------------------------------------------
# verdict ACCEPTED_LIST: "accept" or "refuse" for each line of names, by
# whether "<name>/n.md" is in ACCEPTED_LIST
verdict() {
  perl -e 'open my $a, "<", $ARGV[0] or die; my %ok = map { chomp; ($_ => 1) } <$a>;
           open my $n, "<", $ARGV[1] or die;
           while (<$n>) { chomp; print $ok{"$_/n.md"} ? "accept\n" : "refuse\n" }' "$1" "$RGS_TMP/names"
}
git init -q "$RGS_TMP/oracle"
blob=$(printf 'x' | git -C "$RGS_TMP/oracle" hash-object -w --stdin)
sed "s|^|100644 $blob\t|; s|\$|/n.md|" "$RGS_TMP/names" |
  git -C "$RGS_TMP/oracle" -c core.protectNTFS=true -c core.protectHFS=true update-index --index-info \
  2>"$RGS_TMP/oracle.err"
git -C "$RGS_TMP/oracle" ls-files -z | tr '\0' '\n' >"$RGS_TMP/git-accepted"
verdict "$RGS_TMP/git-accepted" >"$RGS_TMP/git-verdict"

# --- the rule as rgs_path.c states it, read independently ------------------------
perl -CSD -ne '
  chomp; my $bad = 0;
  for my $part (split /\\/, $_, -1) {
    (my $f = $part) =~ s/\p{Default_Ignorable_Code_Point}//g;
    $f =~ tr/A-Z/a-z/;
    $bad = 1 if $f =~ /^(?:\.git|git~1)[. ]*(?::|\z)/;
  }
  print $bad ? "refuse\n" : "accept\n"' "$RGS_TMP/names" >"$RGS_TMP/spec-verdict"

# --- the sync: one folder snapshot with <name>/n.md for every name ------------
perl -CSD -MJSON::PP -MDigest::SHA=sha256_hex -MEncode=encode_utf8 -e '
  my ($r, $f, $names) = @ARGV;
  open my $in, "<", $names or die; my @n = map { chomp; $_ } <$in>;
  my $js = JSON::PP->new->canonical;
  my $ref = "rc:$r:$f"; my %e; my @docs;
  for my $i (0 .. $#n) {
    my $id = sprintf "aaaaaaaa-0000-4000-8000-%012d", $i + 1;
    $e{"/$n[$i]/n.md"} = {version => 0, id => $id, type => "markdown"};
    my $c = "note $i";
    push @docs, {v => 1, type => "doc", ref => $ref, relay => $r, folder => $f, doc => $id,
                 kind => "markdown", never_written => JSON::PP::false, content => $c,
                 sha256 => sha256_hex(encode_utf8($c))};
  }
  print $js->encode({v => 1, type => "folder", ref => $ref, relay => $r, folder => $f,
                     never_written => JSON::PP::false, full => JSON::PP::true, entries => \%e}), "\n";
  print $js->encode($_), "\n" for @docs;' "$R" "$F" "$RGS_TMP/names" >"$RGS_TMP/in"
st=0; sync <"$RGS_TMP/in" >"$RGS_TMP/out" 2>"$RGS_TMP/err" || st=$?
t_is "pipeline exit 0 (refusals are reported, not failures)" "$st" 0
(cd "$REPO" && find . -path ./.git -prune -o -type f -name n.md -print | sed 's|^\./||') \
  >"$RGS_TMP/rgs-accepted"
verdict "$RGS_TMP/rgs-accepted" >"$RGS_TMP/rgs-verdict"
jq -r 'select(.type == "refused") | .vpath' "$RGS_TMP/out" | LC_ALL=C sort >"$RGS_TMP/refused-records"
paste -d'\t' "$RGS_TMP/rgs-verdict" "$RGS_TMP/names" | awk -F'\t' '$1 == "refuse" { print "/" $2 "/n.md" }' |
  LC_ALL=C sort >"$RGS_TMP/not-written"
t_diff "a refused record for exactly the names not written" "$RGS_TMP/refused-records" "$RGS_TMP/not-written"

paste -d'\t' "$RGS_TMP/git-verdict" "$RGS_TMP/spec-verdict" "$RGS_TMP/rgs-verdict" "$RGS_TMP/names" \
  >"$RGS_TMP/table"
n_git=$(grep -c '^refuse' "$RGS_TMP/table")
n_rgs=$(cut -f3 "$RGS_TMP/table" | grep -c refuse)
diag "$total names: git refuses $n_git, the sync refuses $n_rgs"
t_ok "the oracle is not vacuous (git refuses > 100 names and accepts > 100)" \
  test "$n_git" -gt 100 -a $((total - n_git)) -gt 100
missed=$(awk -F'\t' '$1 == "refuse" && $3 != "refuse" { print $4 }' "$RGS_TMP/table")
t_is "every name git refuses as .git (protectNTFS, protectHFS) is refused" "$missed" ""
differ=$(awk -F'\t' '$2 != $3 { print $2 " " $4 }' "$RGS_TMP/table")
t_is "refused exactly where the documented rule says (Perl, Default_Ignorable_Code_Point)" "$differ" ""
t_ok "the rule is wider than git's (ignorables with dots, U+00AD, tag characters)" \
  test "$(awk -F'\t' '$1 == "accept" && $3 == "refuse"' "$RGS_TMP/table" | wc -l)" -gt 0
t_is "no entry refused for another reason" \
  "$(jq -r 'select(.type == "refused") | .reason' "$RGS_TMP/out" | sort -u)" "'.git' component"

t_is ".git untouched" "$(cd "$REPO/.git" && find . -printf '%y %p %s\n' | LC_ALL=C sort | sha256sum)" \
  "$dotgit_before"
t_ok "git add (protectNTFS, protectHFS) takes the whole work tree" \
  git -C "$REPO" -c core.protectNTFS=true -c core.protectHFS=true add -A
t_is "... every written note is in the index" \
  "$(git -C "$REPO" ls-files | wc -l)" "$((total - n_rgs))"

# --- ops crafted by hand, bypassing rgs-plan: rgs-apply checks again ----------
op() {
  jq -cn --arg r "$R" --arg f "$F" --arg p "$1" --arg d "$(uid 1)" --arg s "$(sha PWNED)" \
     '{v:1,type:"op",ref:"x",op:"write",relay:$r,folder:$f,path:$p,vpath:("/"+$p),doc:$d,
       kind:"markdown",content:"PWNED",sha256:$s,pre:{sha256:null}}'
}
crafted=("GIT~1./config" "git~1 /hooks/pre-commit" "git~1:x/y.md" "a\\.git/config"
         ".git\\config" ".g$(printf '\302\255')it/config" "x/.git$(printf '\342\200\213'). ./y.md"
         "GiT~1$(printf '\357\273\277'):s/z.md")
for p in "${crafted[@]}"; do op "$p"; done >"$RGS_TMP/ops.in"
st=0; rgs-apply -d "$DD" <"$RGS_TMP/ops.in" >"$RGS_TMP/ops.out" 2>/dev/null || st=$?
t_is "crafted ops: none applied" "$(jq -s 'map(select(.type == "applied")) | length' "$RGS_TMP/ops.out")" 0
t_is "crafted ops: each refused" \
  "$(jq -s 'map(select(.type == "refused" or .type == "failed")) | length' "$RGS_TMP/ops.out")" "${#crafted[@]}"
t_is "crafted ops: no PWNED byte anywhere in the repository" "$(grep -rl PWNED "$REPO" | wc -l)" 0
done_testing
