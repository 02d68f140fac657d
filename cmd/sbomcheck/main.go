// Command sbomcheck verifies the CycloneDX SBOMs that make sbom writes into build/sbom/: each function's SBOM
// names exactly the modules its binary links (as the go command computes them for linux/arm64) and the
// standard library at the pinned Go release; every module that go.mod requires is named by a function's
// SBOM or by the module's SBOM (tests, the CDK app, the CLI); the npm SBOM names every package of
// infra/package-lock.json.
//
// A go.mod requirement that no package of the module needs is named by no SBOM, because nothing is built
// from it; it is reported (go mod tidy drops it) but does not fail the check.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// bom is the part of a CycloneDX JSON document this command reads.
type bom struct {
	BOMFormat  string      `json:"bomFormat"`
	Components []component `json:"components"`
}

type component struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

func main() {
	dir := flag.String("dir", "build/sbom", "folder of the SBOMs")
	goRelease := flag.String("go", "", "the Go release the functions must be built with (go1.26.10)")
	lockfile := flag.String("npm-lock", "infra/package-lock.json", "the npm lockfile the npm SBOM describes")
	flag.Usage = func() { fmt.Fprintln(os.Stderr, "usage: sbomcheck [-dir build/sbom] -go goX.Y.Z FUNCTION...") }
	flag.Parse()
	if *goRelease == "" || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	problems, notes, err := check(*dir, *goRelease, *lockfile, flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "sbomcheck:", err)
		os.Exit(2)
	}
	for _, n := range notes {
		fmt.Println("sbomcheck: note:", n)
	}
	for _, p := range problems {
		fmt.Println("sbomcheck:", p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
	fmt.Printf("sbomcheck: %d function SBOMs, the module SBOM and the npm SBOM name every module and package\n", flag.NArg())
}

func check(dir, goRelease, lockfile string, functions []string) (problems, notes []string, err error) {
	linked, err := linkedModules(functions)
	if err != nil {
		return nil, nil, err
	}
	named := map[string]bool{} // path@version named by any Go SBOM
	for _, fn := range functions {
		b, err := readBOM(filepath.Join(dir, fn+".cdx.json"))
		if err != nil {
			return nil, nil, err
		}
		got := b.names()
		for m := range got {
			named[m] = true
		}
		want := linked[fn]
		want["std@"+goRelease] = true
		problems = append(problems, diff(fn+".cdx.json", want, got)...)
	}
	module, err := readBOM(filepath.Join(dir, "module.cdx.json"))
	if err != nil {
		return nil, nil, err
	}
	for m := range module.names() {
		named[m] = true
	}
	required, err := goModRequires()
	if err != nil {
		return nil, nil, err
	}
	var unused []string
	for _, m := range required {
		if !named[m] {
			unused = append(unused, m)
		}
	}
	if len(unused) > 0 {
		notes = append(notes, fmt.Sprintf("go.mod requires %s, which no package of the module needs (go mod tidy drops it)",
			strings.Join(unused, ", ")))
	}
	npm, err := readBOM(filepath.Join(dir, "infra-npm.cdx.json"))
	if err != nil {
		return nil, nil, err
	}
	locked, err := lockedPackages(lockfile)
	if err != nil {
		return nil, nil, err
	}
	got := npm.names()
	for p := range locked {
		if !got[p] {
			problems = append(problems, fmt.Sprintf("infra-npm.cdx.json does not name %s from %s", p, lockfile))
		}
	}
	return problems, notes, nil
}

func readBOM(name string) (*bom, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var b bom
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if b.BOMFormat != "CycloneDX" || len(b.Components) == 0 {
		return nil, fmt.Errorf("%s: not a CycloneDX SBOM with components", name)
	}
	return &b, nil
}

// names returns the SBOM's components as name@version.
func (b *bom) names() map[string]bool {
	m := map[string]bool{}
	for _, c := range b.Components {
		m[c.Name+"@"+c.Version] = true
	}
	return m
}

// diff reports the modules one SBOM misses or names in excess.
func diff(file string, want, got map[string]bool) []string {
	var out []string
	for _, m := range sorted(want) {
		if !got[m] {
			out = append(out, fmt.Sprintf("%s does not name %s, which the binary links", file, m))
		}
	}
	for _, m := range sorted(got) {
		if !want[m] {
			out = append(out, fmt.Sprintf("%s names %s, which the binary does not link", file, m))
		}
	}
	return out
}

// linkedModules returns, for each function, the modules (path@version, the main module excluded) its
// binary links: the modules of the packages it depends on when built for Lambda (linux/arm64, lambda.norpc).
func linkedModules(functions []string) (map[string]map[string]bool, error) {
	var pkgs []string
	for _, fn := range functions {
		pkgs = append(pkgs, "./functions/"+fn)
	}
	goList := func(format string) ([]string, error) {
		args := append([]string{"list", "-deps", "-tags", "lambda.norpc", "-f", format}, pkgs...)
		cmd := exec.Command("go", args...)
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("go list: %w", err)
		}
		var lines []string
		for s := bufio.NewScanner(bytes.NewReader(out)); s.Scan(); {
			lines = append(lines, s.Text())
		}
		return lines, nil
	}
	// One listing maps each package to its module, another gives each function's dependencies.
	mods, err := goList(`{{.ImportPath}}{{with .Module}}{{if not .Main}} {{.Path}}@{{.Version}}{{end}}{{end}}`)
	if err != nil {
		return nil, err
	}
	moduleOf := map[string]string{}
	for _, l := range mods {
		if pkg, mod, ok := strings.Cut(l, " "); ok {
			moduleOf[pkg] = mod
		}
	}
	deps, err := goList(`{{if eq .Name "main"}}{{.ImportPath}} {{join .Deps " "}}{{end}}`)
	if err != nil {
		return nil, err
	}
	linked := map[string]map[string]bool{}
	for _, l := range deps {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		fn := filepath.Base(f[0])
		linked[fn] = map[string]bool{}
		for _, p := range f[1:] {
			if m, ok := moduleOf[p]; ok {
				linked[fn][m] = true
			}
		}
	}
	for _, fn := range functions {
		if linked[fn] == nil {
			return nil, fmt.Errorf("go list reported no main package for functions/%s", fn)
		}
	}
	return linked, nil
}

// goModRequires returns go.mod's requirements as path@version.
func goModRequires() ([]string, error) {
	out, err := exec.Command("go", "mod", "edit", "-json").Output()
	if err != nil {
		return nil, fmt.Errorf("go mod edit -json: %w", err)
	}
	var mod struct {
		Require []struct{ Path, Version string }
	}
	if err := json.Unmarshal(out, &mod); err != nil {
		return nil, err
	}
	var req []string
	for _, r := range mod.Require {
		req = append(req, r.Path+"@"+r.Version)
	}
	return req, nil
}

// lockedPackages returns the packages of an npm lockfile (v2 or v3) as name@version.
func lockedPackages(name string) (map[string]bool, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var lock struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	if err := json.Unmarshal(data, &lock); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	pkgs := map[string]bool{}
	for path, p := range lock.Packages {
		if path == "" { // the project itself
			continue
		}
		i := strings.LastIndex(path, "node_modules/")
		pkgs[path[i+len("node_modules/"):]+"@"+p.Version] = true
	}
	return pkgs, nil
}

func sorted(m map[string]bool) []string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}
