package lambdaruntime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Instance is one function running under the emulator: one execution environment, cold until its
// first invocation.
type Instance struct {
	fn     Function
	cmd    *exec.Cmd
	url    string
	out    *output
	done   chan struct{}
	waited error
	// warm is set after the first invocation, which started the function.
	warm bool
}

// Start starts the emulator (binary rie) on free loopback ports with bootstrap as the function's
// runtime. The function gets f.Env and what Lambda itself sets (region, credentials, function name,
// memory, timeout), plus AWS_ENDPOINT_URL and dummy credentials so the SDK reaches the emulator of the
// local stack. Nothing of this process's own environment leaks in: the emulator passes its whole
// environment to the function, so it is started with exactly that one. log, if not nil, receives the
// emulator's and the function's output as it comes. Stop must be called.
func Start(ctx context.Context, rie, bootstrap string, f Function, l Local, log io.Writer) (*Instance, error) {
	apiAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	rieAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for k, v := range f.Env {
		env[k] = v
	}
	timeout := f.TimeoutSeconds
	if timeout == 0 {
		timeout = 3 // Lambda's default
	}
	memory := f.MemoryMB
	if memory == 0 {
		memory = 128
	}
	for k, v := range map[string]string{
		"AWS_REGION": l.Region, "AWS_DEFAULT_REGION": l.Region,
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_SESSION_TOKEN": "test",
		"AWS_ENDPOINT_URL":                l.Endpoint,
		"AWS_LAMBDA_FUNCTION_NAME":        f.Name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(memory),
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     strconv.Itoa(timeout),
		"TZ":                              ":UTC",
	} {
		if _, set := env[k]; set {
			return nil, fmt.Errorf("function %s: its template sets %s, which Lambda reserves", f.Name, k)
		}
		env[k] = v
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	i := &Instance{fn: f, url: "http://" + rieAddr + "/2015-03-31/functions/function/invocations",
		out: &output{tee: log}, done: make(chan struct{})}
	// The emulator logs at info so that its INIT REPORT line (the init duration) is written.
	i.cmd = exec.Command(rie, "--log-level", "info", "--runtime-interface-emulator-address", rieAddr,
		"--runtime-api-address", apiAddr, bootstrap)
	i.cmd.Dir = filepath.Dir(bootstrap) // Lambda's /var/task
	for _, k := range keys {
		i.cmd.Env = append(i.cmd.Env, k+"="+env[k])
	}
	i.cmd.Stdout, i.cmd.Stderr = i.out, i.out
	i.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Stop ends the function with the emulator
	if err := i.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the runtime interface emulator: %w", err)
	}
	go func() { i.waited = i.cmd.Wait(); close(i.done) }()
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", rieAddr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return i, nil
		}
		select {
		case <-i.done:
			return nil, fmt.Errorf("runtime interface emulator exited: %v\n%s", i.waited, i.out.String())
		case <-ctx.Done():
			i.Stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			i.Stop()
			return nil, fmt.Errorf("runtime interface emulator not listening on %s after 10s\n%s", rieAddr, i.out.String())
		}
	}
}

// Result is the answer to one invocation.
type Result struct {
	// Payload is what the function returned (or its error object).
	Payload []byte
	// ErrorType and ErrorMessage are set when the handler returned an error (Lambda's function error).
	ErrorType, ErrorMessage string
	// Init is the emulator's measure of the cold start, from starting the process to its first
	// Runtime API "next" call; zero on a warm invocation.
	Init time.Duration
	// Report is the emulator's REPORT line (duration, billed duration). Its memory fields repeat the
	// configured size: the emulator does not measure memory.
	Report string
}

// ColdStartError is a function that could not start: it exited (or panicked) before asking for its
// first event.
type ColdStartError struct {
	Function string
	// Missing lists the variables the function's code requires and its environment lacks.
	Missing []string
	// Reason is the function's own message, or the emulator's.
	Reason string
}

func (e *ColdStartError) Error() string {
	if len(e.Missing) > 0 {
		return fmt.Sprintf("function %s cannot start: its template does not set %s, which its code reads at cold start (%s)",
			e.Function, strings.Join(e.Missing, ", "), e.Reason)
	}
	return fmt.Sprintf("function %s cannot start: %s", e.Function, e.Reason)
}

var (
	initReport  = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	endReport   = regexp.MustCompile(`(?m)^REPORT RequestId: .*$`)
	missingVars = regexp.MustCompile(`missing configuration: set ([A-Z0-9_]+(?:, [A-Z0-9_]+)*)`)
	panicLine   = regexp.MustCompile(`(?m)^panic: .*$`)
	// coldStartLine is what a function that could not start writes last: wiring.Run's log line, or
	// a panic's goroutine trace; or the emulator's word that the process is gone.
	coldStartLine = regexp.MustCompile(`"msg":"cold start failed".*\n|(?m)^goroutine \d+ .*\n|Process runtime-\d+ exited`)
)

// Invoke sends one event and waits for the answer. A function that fails to start is a
// *ColdStartError; an emulator error (a crash, a timeout) is an error; a handler's error is a Result
// with ErrorType set, as Lambda reports it.
func (i *Instance) Invoke(ctx context.Context, event []byte) (Result, error) {
	mark := i.out.Len()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, i.url, bytes.NewReader(event))
	if err != nil {
		return Result{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("invoke %s: %w", i.fn.Name, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return Result{}, fmt.Errorf("invoke %s: %w", i.fn.Name, err)
	}
	// The emulator writes its REPORT line before it answers, and a function that failed to start
	// wrote why before it exited, but their pipes are copied here concurrently: wait for the line.
	var log string
	if resp.StatusCode == http.StatusOK {
		log = i.out.WaitFor(mark, endReport, 5*time.Second)
		if !i.warm {
			// The emulator's own log (its init report) is on the other pipe.
			log = i.out.WaitFor(mark, initReport, 5*time.Second)
		}
		i.warm = true
	} else {
		log = i.out.WaitFor(mark, coldStartLine, 5*time.Second)
	}
	r := Result{Payload: body}
	if m := initReport.FindStringSubmatch(log); m != nil {
		ms, _ := strconv.ParseFloat(m[1], 64)
		r.Init = time.Duration(ms * float64(time.Millisecond))
	}
	if m := endReport.FindAllString(log, -1); len(m) > 0 {
		r.Report = strings.TrimSpace(m[len(m)-1])
	}
	// The emulator's own word (INIT RTDONE, Runtime.ExitError) and the function's last line come on
	// two pipes: either one, with a failed answer, says the function did not start.
	if strings.Contains(log, "INIT RTDONE(status: error)") || strings.Contains(log, "Runtime.ExitError") ||
		(resp.StatusCode != http.StatusOK && coldStartLine.MatchString(log)) {
		return r, coldStartError(i.fn.Name, log)
	}
	if resp.StatusCode != http.StatusOK {
		return r, fmt.Errorf("invoke %s: the emulator answered %s: %s\n%s", i.fn.Name, resp.Status, body, log)
	}
	var fe struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(body, &fe) == nil && fe.ErrorType != "" {
		r.ErrorType, r.ErrorMessage = fe.ErrorType, fe.ErrorMessage
	}
	return r, nil
}

func coldStartError(fn, log string) *ColdStartError {
	e := &ColdStartError{Function: fn, Reason: "it exited before asking for its first event"}
	for _, line := range strings.Split(log, "\n") {
		var rec struct{ Msg, Error string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "cold start failed" {
			e.Reason = rec.Error
			if m := missingVars.FindStringSubmatch(rec.Error); m != nil {
				e.Missing = strings.Split(m[1], ", ")
			}
			return e
		}
	}
	if p := panicLine.FindString(log); p != "" {
		e.Reason = p
	}
	return e
}

// Output is everything the emulator and the function wrote so far.
func (i *Instance) Output() string { return i.out.String() }

// Stop ends the emulator and the function.
func (i *Instance) Stop() {
	if i.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-i.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-i.done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-i.cmd.Process.Pid, syscall.SIGKILL)
		<-i.done
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// output collects the emulator's output (and copies it to tee, if any) for the reports.
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
	tee io.Writer
	// grew is closed and replaced at every write, to wake WaitFor.
	grew chan struct{}
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.tee != nil {
		_, _ = o.tee.Write(p)
	}
	if o.grew != nil {
		close(o.grew)
		o.grew = nil
	}
	return o.buf.Write(p)
}

// WaitFor returns the output written since offset n once it matches re, or what there is after
// timeout.
func (o *output) WaitFor(n int, re *regexp.Regexp, timeout time.Duration) string {
	deadline := time.After(timeout)
	for {
		o.mu.Lock()
		s := string(o.buf.Bytes()[n:])
		if re.MatchString(s) {
			o.mu.Unlock()
			return s
		}
		if o.grew == nil {
			o.grew = make(chan struct{})
		}
		grew := o.grew
		o.mu.Unlock()
		select {
		case <-grew:
		case <-deadline:
			return o.Since(n)
		}
	}
}

func (o *output) Len() int { o.mu.Lock(); defer o.mu.Unlock(); return o.buf.Len() }

func (o *output) String() string { o.mu.Lock(); defer o.mu.Unlock(); return o.buf.String() }

func (o *output) Since(n int) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return string(o.buf.Bytes()[n:])
}
