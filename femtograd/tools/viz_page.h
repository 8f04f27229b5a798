// The VIZ page: one self-contained HTML file (no external assets). It lists the recorded rewrites,
// steps through the rules that fired in one (file:line, the node before and after), shows the whole
// graph before and after the pass, and the generated kernels' sources. #rewrite=N&step=K in the
// address selects a rewrite and a step (what the arrows and clicks do); #clicks=id,id,... clicks
// those elements in turn once the page has loaded (for headless browser tests).
#pragma once

namespace fg::viz {

inline constexpr const char* kPage = R"PAGE(<!doctype html>
<html><head><meta charset="utf-8"><title>femtograd VIZ</title>
<style>
body{margin:0;font:13px/1.4 system-ui,sans-serif;display:flex;height:100vh;color:#222}
#side{width:300px;overflow:auto;border-right:1px solid #ccc;background:#f7f7f7}
#side h2{font-size:13px;margin:8px;color:#555}
#side a{display:block;padding:2px 8px;color:#222;text-decoration:none;cursor:pointer;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
#side a.sel{background:#cde}
#main{flex:1;overflow:auto;padding:8px 16px}
pre{background:#fafafa;border:1px solid #ddd;padding:6px;overflow:auto;max-height:40vh;font:12px/1.3 monospace}
.panes{display:flex;gap:12px}.panes>div{flex:1;min-width:0}
button{margin-right:6px}
#rules li.cur{background:#ffe9a8}
#rules li{cursor:pointer;font-family:monospace}
.tabs span{cursor:pointer;margin-right:12px;text-decoration:underline}
</style></head>
<body>
<div id="side">
  <div class="tabs" style="margin:8px"><span id="tab-rewrites">rewrites</span><span id="tab-kernels">kernels</span></div>
  <h2 id="side-title">graph rewrites</h2>
  <div id="rewrite-list"></div>
  <div id="kernel-list" style="display:none"></div>
</div>
<div id="main">
  <div id="rewrite-view">
    <h1 id="pass-title" style="font-size:16px">pick a rewrite</h1>
    <div><button id="prev">&larr; step</button><button id="next">step &rarr;</button><span id="step-info"></span></div>
    <h3>rule <span id="rule-where"></span></h3>
    <div class="panes"><div><b>node before</b><pre id="rule-before"></pre></div><div><b>node after</b><pre id="rule-after"></pre></div></div>
    <h3>rules that fired</h3><ol id="rules"></ol>
    <div class="panes"><div><b>graph before the pass</b><pre id="graph-before"></pre></div><div><b>graph after the pass</b><pre id="graph-after"></pre></div></div>
  </div>
  <div id="kernel-view" style="display:none"><h1 id="kernel-title" style="font-size:16px"></h1><pre id="kernel-source" style="max-height:85vh"></pre></div>
</div>
<script>
let rewrites=[], kernels=[], cur=null, step=0;
const $=id=>document.getElementById(id);
function parseHash(){const h=new URLSearchParams(location.hash.slice(1));return{rw:h.get('rewrite'),st:h.get('step'),k:h.get('kernel'),clicks:h.get('clicks')};}
const sleep=ms=>new Promise(r=>setTimeout(r,ms));
function setHash(){location.hash=cur?('rewrite='+cur.i+'&step='+step):'';}
function showStep(){
  if(!cur)return;
  const n=cur.rules.length; step=Math.max(0,Math.min(step,n-1));
  const r=cur.rules[step];
  $('step-info').textContent='step '+(step+1)+' of '+n;
  $('rule-where').textContent=r.where; $('rule-before').textContent=r.before; $('rule-after').textContent=r.after;
  [...$('rules').children].forEach((li,k)=>li.className=k===step?'cur':'');
}
async function selectRewrite(i,st){
  const res=await fetch('/api/rewrite/'+i); cur=await res.json(); step=st||0;
  document.querySelectorAll('#rewrite-list a').forEach(a=>a.className=(+a.dataset.i===+i)?'sel':'');
  $('rewrite-view').style.display=''; $('kernel-view').style.display='none';
  $('pass-title').textContent='#'+cur.i+' '+cur.pass+' ('+cur.rules.length+' rules fired)';
  $('graph-before').textContent=cur.before; $('graph-after').textContent=cur.after;
  const ol=$('rules'); ol.innerHTML='';
  cur.rules.forEach((r,k)=>{const li=document.createElement('li');li.textContent=r.where+'  '+r.before+'  \u2192  '+r.after;li.onclick=()=>{step=k;showStep();setHash();};ol.appendChild(li);});
  showStep();
}
function selectKernel(k){
  const kk=kernels[k]; if(!kk)return;
  $('rewrite-view').style.display='none'; $('kernel-view').style.display='';
  $('kernel-title').textContent=kk.name; $('kernel-source').textContent=kk.source;
}
function showTab(t){
  $('rewrite-list').style.display=t==='r'?'':'none'; $('kernel-list').style.display=t==='k'?'':'none';
  $('side-title').textContent=t==='r'?'graph rewrites ('+rewrites.length+')':'kernels ('+kernels.length+')';
}
async function load(){
  rewrites=await (await fetch('/api/rewrites')).json();
  kernels=await (await fetch('/api/kernels')).json();
  const rl=$('rewrite-list');
  rewrites.forEach(r=>{const a=document.createElement('a');a.dataset.i=r.i;a.id='rw-'+r.i;a.textContent=r.i+'  '+r.pass+'  ('+r.fired+')';a.onclick=()=>{selectRewrite(r.i,0).then(setHash);};rl.appendChild(a);});
  const kl=$('kernel-list');
  kernels.forEach((k,i)=>{const a=document.createElement('a');a.id='k-'+i;a.textContent=k.name;a.onclick=()=>{selectKernel(i);location.hash='kernel='+i;};kl.appendChild(a);});
  $('tab-rewrites').onclick=()=>showTab('r'); $('tab-kernels').onclick=()=>showTab('k');
  $('prev').onclick=()=>{step--;showStep();setHash();}; $('next').onclick=()=>{step++;showStep();setHash();};
  document.addEventListener('keydown',e=>{if(e.key==='ArrowRight'){step++;showStep();setHash();}if(e.key==='ArrowLeft'){step--;showStep();setHash();}});
  showTab('r');
  const h=parseHash();
  if(h.k!==null){showTab('k');selectKernel(+h.k);}
  else if(h.rw!==null)await selectRewrite(+h.rw,+(h.st||0));
  else if(rewrites.length)await selectRewrite(rewrites[0].i,0);
  // #clicks=id1,id2,...: click those elements in turn (a headless browser test drives the page so)
  if(h.clicks){for(const id of h.clicks.split(',')){const el=$(id);if(el){el.click();await sleep(300);}}}
  document.body.dataset.ready='1';
}
load();
</script></body></html>
)PAGE";

}  // namespace fg::viz
