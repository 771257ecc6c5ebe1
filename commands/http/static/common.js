// Shared by the pages: the token (sessionStorage only: no cookie, so no CSRF surface), calls
// to the JSON API with it, and money in Swedish kronor. No inline script anywhere (CSP).
"use strict";

window.GL = (() => {
  const TOKEN_KEY = "grant-ledger.token";

  const token = () => sessionStorage.getItem(TOKEN_KEY);

  // What the token says about its holder, for display only: the server checks every call.
  function claims() {
    const value = token();
    if (!value) return null;
    try {
      const payload = value.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(decodeURIComponent(escape(atob(payload))));
    } catch (error) {
      return null;
    }
  }

  function query(params) {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(params || {})) {
      for (const item of [].concat(value)) {
        if (item !== null && item !== undefined && item !== "") search.append(name, item);
      }
    }
    const text = search.toString();
    return text ? `?${text}` : "";
  }

  async function call(path, params) {
    const response = await fetch(path + query(params), {
      headers: { Authorization: `Bearer ${token() || ""}` },
      credentials: "omit",
    });
    if (!response.ok) {
      let message = `${response.status}`;
      try {
        const body = await response.json();
        message = `${response.status}: ${body.error.field || ""} ${body.error.message}`;
      } catch (error) {
        // not JSON: keep the status
      }
      if (response.status === 401) message += " — sign in again with a valid token";
      throw new Error(message);
    }
    return response;
  }

  async function json(path, params) {
    const response = await call(path, params);
    return { body: await response.json(), position: response.headers.get("X-Ledger-Position") };
  }

  async function download(path, params, fileName) {
    const blob = await (await call(path, params)).blob();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = fileName;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  // 135000000000 öre -> "1 350 000 000,00 kr" (as the CLI's table and schemas.money).
  function sek(ore) {
    const sign = ore < 0 ? "-" : "";
    const whole = Math.abs(ore);
    const kronor = Math.floor(whole / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, " ");
    const cents = String(whole % 100).padStart(2, "0");
    return `${sign}${kronor},${cents} kr`;
  }

  function element(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value !== null && value !== undefined) node.setAttribute(name, value);
    }
    for (const child of children) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function status(text, isError) {
    const line = document.getElementById("status");
    line.textContent = text;
    line.className = isError ? "error" : "";
  }

  function signIn(onSignedIn) {
    const input = document.getElementById("token");
    const who = document.getElementById("who");
    const show = () => {
      const held = claims();
      who.textContent = held
        ? `${held.sub} (${[].concat(rolesOf(held)).join(", ") || "no role"})`
        : "not signed in";
      document.body.classList.toggle("signed-in", Boolean(held));
    };
    document.getElementById("sign-in").addEventListener("click", () => {
      const value = input.value.trim();
      if (!value) return;
      sessionStorage.setItem(TOKEN_KEY, value);
      input.value = "";
      show();
      onSignedIn();
    });
    document.getElementById("sign-out").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      show();
      window.location.reload();
    });
    show();
    if (token()) onSignedIn();
  }

  // Roles may sit at `roles` or nested (Keycloak: realm_access.roles): show whatever is there.
  function rolesOf(held) {
    if (Array.isArray(held.roles)) return held.roles;
    if (held.realm_access && Array.isArray(held.realm_access.roles)) return held.realm_access.roles;
    return [];
  }

  return { call, json, download, sek, element, status, signIn };
})();
