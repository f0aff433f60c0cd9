// Command buildtime measures a first build of the example: it builds
// ./example with an empty build cache (as on a machine that never built
// Go code, or after go clean -cache), reports the wall time, and, from
// go build's action graph, which modules the compiler spent its time on.
//
//	go run ./example/buildtime                     # the default build
//	go run ./example/buildtime -tags sqliteonly    # without the PostgreSQL and Redis drivers
//	go run ./example/buildtime -stdcached          # the standard library already compiled
//
// The figures depend on the machine and on what else runs on it: the
// README's were taken on 2 cores.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// action is the part of a `go build -debug-actiongraph` entry used here.
type action struct {
	Mode      string
	Package   string
	TimeStart time.Time
	TimeDone  time.Time
}

func main() {
	tags := flag.String("tags", "", "build tags, as for go build")
	stdCached := flag.Bool("stdcached", false, "compile the standard library into the empty cache first, untimed: a machine that has built other Go code before")
	flag.Parse()
	dir, err := os.MkdirTemp("", "buildtime-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	graph := filepath.Join(dir, "actions.json")
	args := []string{"build", "-o", filepath.Join(dir, "example"), "-debug-actiongraph=" + graph}
	if *tags != "" {
		args = append(args, "-tags", *tags)
	}
	env := append(os.Environ(), "GOCACHE="+filepath.Join(dir, "cache"))
	if *stdCached {
		std := exec.Command("go", "build", "std")
		std.Env, std.Stdout, std.Stderr = env, os.Stdout, os.Stderr
		if err := std.Run(); err != nil {
			fail(err)
		}
	}
	cmd := exec.Command("go", append(args, "./example")...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, os.Stdout, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		fail(err)
	}
	wall := time.Since(start)
	// The go command's CPU time includes the compilers and the linker it
	// ran: less sensitive than wall time to whatever else the machine runs.
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()

	b, err := os.ReadFile(graph)
	if err != nil {
		fail(err)
	}
	var actions []action
	if err := json.Unmarshal(b, &actions); err != nil {
		fail(err)
	}
	byModule := map[string]time.Duration{}
	var total time.Duration
	for _, a := range actions {
		if (a.Mode != "build" && a.Mode != "link") || a.TimeStart.IsZero() || a.TimeDone.IsZero() {
			continue
		}
		d := a.TimeDone.Sub(a.TimeStart)
		byModule[module(a.Package)] += d
		total += d
	}
	type row struct {
		name string
		d    time.Duration
	}
	var rows []row
	for name, d := range byModule {
		rows = append(rows, row{name, d})
	}
	slices.SortFunc(rows, func(x, y row) int { return int(y.d - x.d) })

	fmt.Printf("first build of ./example (tags %q, standard library cached %v) on %d CPUs: %.0f s wall, %.0f s CPU\n",
		*tags, *stdCached, runtime.NumCPU(), wall.Seconds(), cpu.Seconds())
	fmt.Printf("share of the compile and link actions (%.0f s, parallel, so more than the wall time):\n", total.Seconds())
	for _, r := range rows[:min(10, len(rows))] {
		fmt.Printf("%5.1f s  %3.0f%%  %s\n", r.d.Seconds(), 100*r.d.Seconds()/total.Seconds(), r.name)
	}
}

// module names the module a package path belongs to, roughly: the
// standard library, or the first three path elements.
func module(pkg string) string {
	first, _, _ := strings.Cut(pkg, "/")
	if !strings.Contains(first, ".") {
		return "standard library"
	}
	parts := strings.Split(pkg, "/")
	return strings.Join(parts[:min(3, len(parts))], "/") // modernc.org/sqlite/lib: SQLite's C code, in Go
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "buildtime:", err)
	os.Exit(1)
}
