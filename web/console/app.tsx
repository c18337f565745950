/**
 * The console shell: the nav, the route switch and the session check (a signed-out visitor goes to sign-in).
 */
import { useEffect, useState } from 'preact/hooks';
import { BASE, parseRoute, type Route } from '../lib/route.js';
import { hasSession, loadSession, signOut, toSignIn } from './api.js';
import { AgentsPage } from './pages/agents.js';
import { CallPage } from './pages/call.js';
import { HistoryPage } from './pages/history.js';
import { LivePage } from './pages/live.js';
import { OverviewPage } from './pages/overview.js';
import { PhonePage } from './pages/phone.js';
import { SignInPage } from './pages/sign-in.js';
import { Link, navigate, useLocation } from './router.js';

const NAV: ReadonlyArray<{ href: string; label: string; pages: Route['page'][] }> = [
  { href: BASE, label: 'Live calls', pages: ['live'] },
  { href: `${BASE}/history`, label: 'History', pages: ['history', 'call'] },
  { href: `${BASE}/overview`, label: 'Overview', pages: ['overview'] },
  { href: `${BASE}/agents`, label: 'Agents', pages: ['agents'] },
  { href: `${BASE}/phone`, label: 'Phone', pages: ['phone'] },
];

export function App() {
  const location = useLocation();
  const route = parseRoute(location.pathname);
  const [checked, setChecked] = useState(hasSession());

  useEffect(() => {
    if (route.page === 'sign-in' || hasSession()) return;
    let live = true;
    loadSession().then(
      (session) => {
        if (!live) return;
        if (session === null) toSignIn();
        else setChecked(true);
      },
      () => {
        if (live) setChecked(true); // the pages will show the error
      },
    );
    return () => {
      live = false;
    };
  }, [route.page]);

  const onSignOut = async (): Promise<void> => {
    try {
      await signOut();
    } finally {
      navigate(`${BASE}/sign-in`);
    }
  };

  const signedIn = route.page !== 'sign-in';
  const ready = checked || hasSession();
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">callbridge</span>
        <nav aria-label="Console">
          <ul>
            {NAV.map((item) => (
              <li key={item.href}>
                <Link href={item.href} aria-current={item.pages.includes(route.page) ? 'page' : undefined}>
                  {item.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        {signedIn && ready ? (
          <button type="button" class="link-button" onClick={() => void onSignOut()}>
            Sign out
          </button>
        ) : null}
      </header>
      <main id="main">{route.page === 'sign-in' || ready ? <Page route={route} search={location.search} /> : <p class="muted">Checking your session…</p>}</main>
    </>
  );
}

function Page({ route, search }: { route: Route; search: string }) {
  switch (route.page) {
    case 'live':
      return <LivePage />;
    case 'history':
      return <HistoryPage search={search} />;
    case 'call':
      return <CallPage callSid={route.callSid} key={route.callSid} />;
    case 'overview':
      return <OverviewPage />;
    case 'agents':
      return <AgentsPage />;
    case 'phone':
      return <PhonePage search={search} />;
    case 'sign-in':
      return <SignInPage search={search} />;
    default:
      return (
        <section>
          <h1>Not found</h1>
          <p>
            No such page. <Link href={BASE}>Go to live calls</Link>.
          </p>
        </section>
      );
  }
}
