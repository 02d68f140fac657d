// Command vulnscan reads the JSON reports of govulncheck (-format json), one file per scanned target, and
// fails when a vulnerability is reachable from our code, naming the advisory, the version it is fixed in
// and what to bump. make vulncheck writes the reports (build/vulncheck/<target>.json) and runs it.
//
// govulncheck also reports vulnerable modules and packages that are present but never called; those are
// listed as notes and do not fail the run: only a finding with a call trace into the vulnerable symbol does.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// message is one object of govulncheck's JSON stream (golang.org/x/vuln/internal/govulncheck.Message),
// with only the fields this command reads.
type message struct {
	Config *struct {
		ScannerVersion string `json:"scanner_version"`
		GoVersion      string `json:"go_version"`
		ScanMode       string `json:"scan_mode"`
		DB             string `json:"db"`
	} `json:"config"`
	OSV *struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"osv"`
	Finding *finding `json:"finding"`
}

type finding struct {
	OSV          string  `json:"osv"`
	FixedVersion string  `json:"fixed_version"`
	Trace        []frame `json:"trace"`
}

// frame is one step of a finding's trace; the first is the vulnerable symbol (or package, or module).
type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
	Position *struct {
		Filename string `json:"filename"`
		Line     int    `json:"line"`
	} `json:"position"`
}

// Vuln is one reachable advisory in one module, with every target that reaches it.
type Vuln struct {
	ID, Summary      string
	Module, Found    string // the vulnerable module ("stdlib" for the standard library) and its version in use
	Fixed            string // the first fixed version; empty when no fix is released
	Symbol, CalledAt string // the vulnerable symbol and the first call site in our code
	Targets          []string
}

// Report is what the reports of one run say.
type Report struct {
	Targets   []string
	Reachable []*Vuln
	// Unreached lists advisories of modules or packages in use whose vulnerable code is never called.
	Unreached []string
}

func main() {
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: vulnscan REPORT.json...  (govulncheck -format json output, one file per target)")
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	r, err := readReports(flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulnscan:", err)
		os.Exit(2)
	}
	if !r.print(os.Stdout) {
		os.Exit(1)
	}
}

// readReports reads each report; a target's name is its file name without .json.
func readReports(files []string) (*Report, error) {
	r := &Report{}
	byKey := map[string]*Vuln{}
	unreached := map[string]bool{}
	for _, name := range files {
		target := strings.TrimSuffix(filepath.Base(name), ".json")
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		err = readReport(f, target, byKey, unreached)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		r.Targets = append(r.Targets, target)
	}
	for _, v := range byKey {
		r.Reachable = append(r.Reachable, v)
	}
	sort.Slice(r.Reachable, func(i, j int) bool {
		a, b := r.Reachable[i], r.Reachable[j]
		return a.ID < b.ID || a.ID == b.ID && a.Module < b.Module
	})
	for id := range unreached {
		if !r.reaches(id) {
			r.Unreached = append(r.Unreached, id)
		}
	}
	sort.Strings(r.Unreached)
	return r, nil
}

func readReport(in io.Reader, target string, byKey map[string]*Vuln, unreached map[string]bool) error {
	summaries := map[string]string{}
	sawConfig := false
	dec := json.NewDecoder(in)
	for {
		var m message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return err
		}
		switch {
		case m.Config != nil:
			sawConfig = true
		case m.OSV != nil:
			summaries[m.OSV.ID] = m.OSV.Summary
		case m.Finding != nil && len(m.Finding.Trace) > 0:
			f := m.Finding
			vuln := f.Trace[0]
			if vuln.Function == "" { // module or package level: present, not called
				unreached[f.OSV] = true
				continue
			}
			key := f.OSV + " " + vuln.Module
			v := byKey[key]
			if v == nil {
				v = &Vuln{ID: f.OSV, Summary: summaries[f.OSV], Module: vuln.Module, Found: vuln.Version,
					Fixed: f.FixedVersion, Symbol: symbol(vuln), CalledAt: callSite(f.Trace)}
				byKey[key] = v
			}
			if v.CalledAt == "" { // a binary's trace has no call site; the source scan's has
				v.CalledAt = callSite(f.Trace)
			}
			if len(v.Targets) == 0 || v.Targets[len(v.Targets)-1] != target {
				v.Targets = append(v.Targets, target)
			}
		}
	}
	if !sawConfig {
		return errors.New("not a govulncheck JSON report (no config message)")
	}
	return nil
}

func (r *Report) reaches(id string) bool {
	for _, v := range r.Reachable {
		if v.ID == id {
			return true
		}
	}
	return false
}

// print writes the report and says whether the run passes.
func (r *Report) print(w io.Writer) bool {
	if len(r.Reachable) == 0 {
		fmt.Fprintf(w, "vulnscan: no reachable vulnerability in %d targets (%s)\n", len(r.Targets), strings.Join(r.Targets, ", "))
		if len(r.Unreached) > 0 {
			fmt.Fprintf(w, "vulnscan: in use but not called (no action needed): %s\n", strings.Join(r.Unreached, ", "))
		}
		return true
	}
	fmt.Fprintf(w, "vulnscan: %d reachable vulnerabilities\n", len(r.Reachable))
	for _, v := range r.Reachable {
		fmt.Fprintf(w, "\n%s  %s\n", v.ID, v.Summary)
		fmt.Fprintf(w, "  found:   %s %s (%s)\n", v.Module, goVersion(v.Module, v.Found), v.Symbol)
		if v.Fixed == "" {
			fmt.Fprintf(w, "  fixed:   no fixed version yet: remove the call or replace %s\n", v.Module)
		} else {
			fmt.Fprintf(w, "  fixed:   %s\n", goVersion(v.Module, v.Fixed))
			fmt.Fprintf(w, "  bump:    %s\n", bump(v.Module, v.Fixed))
		}
		if v.CalledAt != "" {
			fmt.Fprintf(w, "  reached: %s\n", v.CalledAt)
		}
		fmt.Fprintf(w, "  in:      %s\n", strings.Join(v.Targets, ", "))
		fmt.Fprintf(w, "  more:    https://pkg.go.dev/vuln/%s\n", v.ID)
	}
	// One bump per module fixes all of its advisories: the highest fixed version.
	fixes := map[string]string{}
	for _, v := range r.Reachable {
		if v.Fixed != "" && semverLess(fixes[v.Module], v.Fixed) {
			fixes[v.Module] = v.Fixed
		}
	}
	fmt.Fprintln(w, "\nvulnscan: to fix them all:")
	for _, m := range sorted(fixes) {
		fmt.Fprintf(w, "  %s\n", bump(m, fixes[m]))
	}
	return false
}

// semverLess compares two vMAJOR.MINOR.PATCH versions (pre-release suffixes compare as text); "" is lowest.
func semverLess(a, b string) bool {
	if a == "" {
		return b != ""
	}
	pa, pb := strings.Split(strings.TrimPrefix(a, "v"), "."), strings.Split(strings.TrimPrefix(b, "v"), ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, errA := strconv.Atoi(pa[i])
		nb, errB := strconv.Atoi(pb[i])
		switch {
		case errA != nil || errB != nil:
			if pa[i] != pb[i] {
				return pa[i] < pb[i]
			}
		case na != nb:
			return na < nb
		}
	}
	return len(pa) < len(pb)
}

func sorted(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// bump says what change fixes a vulnerability of module.
func bump(module, fixed string) string {
	if module == "stdlib" || module == "toolchain" {
		return fmt.Sprintf("the Go release: GO_RELEASE := %s in the Makefile", goVersion(module, fixed))
	}
	return fmt.Sprintf("go get %s@%s && go mod tidy", module, fixed)
}

// goVersion spells the standard library's semver versions (v1.26.10) as Go releases (go1.26.10).
func goVersion(module, v string) string {
	if module == "stdlib" || module == "toolchain" {
		return "go" + strings.TrimPrefix(v, "v")
	}
	return v
}

func symbol(f frame) string {
	if f.Receiver != "" {
		return f.Package + "." + strings.TrimPrefix(f.Receiver, "*") + "." + f.Function
	}
	return f.Package + "." + f.Function
}

// callSite is the frame of our code nearest to the vulnerable symbol: the trace runs from that symbol
// (first) to an entry point of ours (last), so it is the first frame in the entry point's module.
func callSite(trace []frame) string {
	if len(trace) < 2 {
		return ""
	}
	ours := trace[len(trace)-1].Module
	for _, f := range trace[1:] {
		if f.Module != ours {
			continue
		}
		if f.Position == nil || f.Position.Filename == "" { // binaries carry no positions
			return symbol(f)
		}
		return fmt.Sprintf("%s:%d (%s)", f.Position.Filename, f.Position.Line, symbol(f))
	}
	return ""
}
