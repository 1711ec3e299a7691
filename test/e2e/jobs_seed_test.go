package e2e

// Batch and job data for the "Batch jobs" and "Job state" dashboards and the batch alert rules:
//   - a stand-in HTCondor (condor_q, condor_history, condor_status in one node script) that the live
//     collector's condor slurper runs: schedd01 and schedd02 answer, schedd03 fails (exit 1); nova has
//     over 20 % of its jobs held, a dune idle job on schedd01 has waited three days;
//   - job lifecycle events (job.submitted … job.finished, heartbeats) posted while seeding, with one job
//     silent for hours, folded by the collector into job states; a few more posted live;
//   - past downtimes on a schedd and on a site, planned and unplanned, for the dashboards' annotations.

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// condorStandin prints ClassAds with HTCondor's attribute names, computed from the clock, for the
// schedd named by -name (condor_q, condor_history) or the pool named by -pool (condor_status).
const condorStandin = `#!/usr/bin/env node
const [tool, ...args] = process.argv.slice(2);
const arg = (k) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : undefined; };
const now = Math.floor(Date.now() / 1000);
const schedd = arg('-name');
if (tool !== 'status' && schedd === 'schedd03.fnal.gov') {
  process.stderr.write('Error: Failed to fetch ads from schedd03.fnal.gov: SECMAN:2007:Failed to end classad message.\n');
  process.exit(1);
}
// Per schedd: jobs of each experiment by state (running, idle, held).
const queues = {
  'schedd01.fnal.gov': { nova: [30, 20, 30], dune: [50, 10, 2], mu2e: [10, 5, 1] },
  'schedd02.fnal.gov': { nova: [10, 10, 10], dune: [40, 10, 3], mu2e: [20, 5, 2] },
};
const users = ['alice', 'bob', 'carol'];
const ads = [];
if (tool === 'q') {
  let n = 0;
  for (const [exp, [running, idle, held]] of Object.entries(queues[schedd] ?? {})) {
    const add = (status, k, extra) => {
      for (let i = 0; i < k; i++, n++) {
        const user = users[n % 3];
        ads.push({ ClusterId: 1000 + n, ProcId: 0, JobStatus: status, Owner: user, AccountingGroup: 'group_' + exp + '.prod.' + user,
          RequestCpus: 1 + (n % 4), RequestMemory: 2000, QDate: now - 600 - 10 * i, ...extra(i) });
      }
    };
    add(2, running, () => ({}));
    // The first idle dune job on schedd01 has waited three days.
    add(1, idle, (i) => (exp === 'dune' && schedd === 'schedd01.fnal.gov' && i === 0 ? { QDate: now - 3 * 86400 } : {}));
    add(5, held, (i) => ({ HoldReasonCode: [13, 16, 34][i % 3] }));
  }
} else if (tool === 'history') {
  // Completions inside the window the slurper asks for: (completedsince, now].
  const since = Number(arg('-completedsince') ?? now - 60);
  let n = 0;
  for (const exp of ['nova', 'dune', 'mu2e'])
    for (let i = 0; i < 3; i++, n++)
      ads.push({ ClusterId: 900 + n, ProcId: 0, JobStatus: 4, Owner: users[i], AccountingGroup: 'group_' + exp + '.prod.' + users[i],
        CompletionDate: since + 1, ExitCode: i === 2 ? 1 : 0, ExitBySignal: false });
} else if (tool === 'status') {
  const slots = [['Claimed', 'Busy', 'Dynamic', 40], ['Unclaimed', 'Idle', 'Partitionable', 8], ['Owner', 'Idle', 'Static', 2]];
  for (const [State, Activity, SlotType, k] of slots)
    for (let i = 0; i < k; i++) ads.push({ Name: 'slot' + i + '@wn' + i, State, Activity, SlotType, Cpus: SlotType === 'Partitionable' ? 16 : 1 });
}
process.stdout.write(ads.length ? '[\n' + ads.map((a) => JSON.stringify(a, null, 2)).join('\n,\n') + '\n]\n' : '');
`

// writeCondorStandin puts the stand-in into dir; the adapted config runs it as `node FILE q|history|status`.
func writeCondorStandin(dir string) (string, error) {
	p := filepath.Join(dir, "condor-standin.mjs")
	return p, os.WriteFile(p, []byte(condorStandin), 0o755)
}

var (
	jobExperiments = []string{"nova", "dune", "mu2e"}
	jobSites       = []string{"FNAL", "CERN"}
)

// jobEvent is a job lifecycle event as a sender posts it: job, experiment and site as labels.
func jobEvent(typ, job, exp, site string, t int64, data map[string]any) map[string]any {
	return map[string]any{"type": typ, "source": "jobsub01.fnal.gov", "time": t, "labels": l("job", job, "experiment", exp, "site", site), "data": data}
}

// seedJobs posts two hours of job lifecycle events (in one batch: folded together) and the downtimes
// the batch and job dashboards annotate.
func (e *env) seedJobs(end int64) error {
	t0 := end - 2*3600
	var evs []map[string]any
	for i := 0; i < 24; i++ {
		id, exp, site := fmt.Sprintf("%d.0", 5000+i), jobExperiments[i%3], jobSites[i%2]
		sub := t0 + int64(i)*120
		ev := func(typ string, t int64, data map[string]any) {
			evs = append(evs, jobEvent(typ, id, exp, site, t, data))
		}
		ev("job.submitted", sub, map[string]any{"user": []string{"alice", "bob", "carol"}[i%3], "schedd": "jobsub01.fnal.gov"})
		last := sub
		switch i % 6 {
		case 0:
			ev("job.started", sub+300, nil)
			ev("job.finished", sub+1200, map[string]any{"exitCode": 0})
			continue
		case 1:
			ev("job.started", sub+300, nil)
			ev("job.failed", sub+1500, map[string]any{"exitCode": 137})
			continue
		case 2:
			ev("job.started", sub+300, nil)
			ev("job.held", sub+900, map[string]any{"reason": "memory usage exceeded request"})
			last = sub + 900
		case 3:
			ev("job.started", sub+300, nil)
			ev("job.held", sub+600, map[string]any{"reason": "input file missing"})
			ev("job.released", sub+900, nil)
			ev("job.started", sub+1000, nil)
			last = sub + 1000
		case 4:
			ev("job.started", sub+300, nil)
			last = sub + 300
		}
		// Alive: a heartbeat every 15 minutes up to the last seeded minute.
		for t := last + 900; t < end; t += 900 {
			ev("job.heartbeat", t, nil)
		}
	}
	// Lost: started three hours ago, never heard of since (the first tick flags it silent).
	evs = append(evs, jobEvent("job.submitted", "4999.0", "nova", "FNAL", end-3*3600, nil), jobEvent("job.started", "4999.0", "nova", "FNAL", end-3*3600+120, nil))
	for i := range evs {
		evs[i]["time"] = evs[i]["time"].(int64) * 1000
	}
	if err := e.col.api("POST", "/api/v1/events", editorToken, evs, nil); err != nil {
		return err
	}
	h := int64(3600)
	for _, d := range []downtimeIn{
		{"planned", `{schedd="schedd01.fnal.gov"}`, end - 3*h, end - 5*h/2, "e2e", "schedd upgrade"},
		{"unplanned", `{schedd="schedd02.fnal.gov"}`, end - 2*h, end - 7*h/4, "e2e", "schedd spool disk full"},
		{"planned", `{site="FNAL"}`, end - 4*h, end - 3*h, "e2e", "FNAL network maintenance"},
		{"unplanned", `{site="CERN"}`, end - 5*h/2, end - 2*h, "e2e", "CERN storage outage"},
	} {
		if err := e.col.api("POST", "/api/v1/downtimes", editorToken, d, nil); err != nil {
			return err
		}
	}
	return nil
}

// liveJobs posts a few events at the live collector's time, so transitions move in its series too.
func (e *env) liveJobs() error {
	now := time.Now().UnixMilli()
	var evs []map[string]any
	for i := 0; i < 3; i++ {
		id := fmt.Sprintf("%d.0", 6000+i)
		evs = append(evs, jobEvent("job.submitted", id, jobExperiments[i], "FNAL", now-2000, nil))
		if i > 0 {
			evs = append(evs, jobEvent("job.started", id, jobExperiments[i], "FNAL", now-1000, nil))
		}
	}
	return e.col.api("POST", "/api/v1/events", editorToken, evs, nil)
}

// waitBatchSeries waits until the live collector's condor slurper and job timer have written a
// readable point of every series the batch and job dashboards and rules read.
func (e *env) waitBatchSeries() error {
	sels := []string{`condor_jobs{state="held"}`, `condor_jobs_held`, `condor_oldest_idle_seconds`, `condor_jobs_completed`, `condor_jobs_failed`,
		`condor_slots`, `condor_up{schedd="schedd03.fnal.gov"}`, `condor_up{schedd="schedd01.fnal.gov"}`,
		`job_states`, `job_transitions{to="running"}`, `job_silent`}
	deadline := time.Now().Add(90 * time.Second)
	for {
		missing := ""
		for _, sel := range sels {
			var res seriesAnswer
			now := time.Now().Unix()
			q := fmt.Sprintf("/api/v1/query?match=%s&from=%d&to=%d&step=5", url.QueryEscape(sel), now-600, now)
			if err := e.col.api("GET", q, viewerToken, nil, &res); err != nil {
				return err
			}
			ok := false
			for _, s := range res.Series {
				for _, v := range s.Values {
					ok = ok || v != nil
				}
			}
			if !ok {
				missing = sel
				break
			}
		}
		if missing == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s has no value after 90 s\n%s", missing, e.col.p.logs)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
